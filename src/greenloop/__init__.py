"""GreenLoop: a customer database and loyalty-tier engine for Lightspeed retailers."""

__all__ = ["__version__"]

__version__ = "0.1.0"
