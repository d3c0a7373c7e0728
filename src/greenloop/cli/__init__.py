"""The ``greenloop`` command line: one module per command group, thin over ``services``."""

from greenloop.cli.app import app, main

__all__ = ["app", "main"]
