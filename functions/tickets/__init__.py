"""The tickets function."""
