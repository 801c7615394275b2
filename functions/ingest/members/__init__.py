"""The ingest function: members."""
