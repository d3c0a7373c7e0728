"""Lightspeed eCom (E-Series) order exports: reading, validating and importing them."""
