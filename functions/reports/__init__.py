"""The reports function."""
