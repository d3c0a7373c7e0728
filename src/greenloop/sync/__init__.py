"""Pulling X-Series data into the store, one committed page at a time."""
