"""Process-wide policies the batch jobs share (the garbage collector's, for now)."""
