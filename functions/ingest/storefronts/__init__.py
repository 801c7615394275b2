"""The ingest function: storefronts."""
