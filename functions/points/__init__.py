"""The points function."""
