"""Command-line entry points; `scripts/*.py` are thin wrappers around these `main` functions."""
