"""One construct per capability of the loyalty stack, built from ``infra/definitions.py``."""
