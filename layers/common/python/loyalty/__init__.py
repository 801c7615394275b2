"""Shared code for the loyalty functions, shipped as the ``common`` Lambda layer."""
