"""The ingest function: events."""
