"""A faithful fake of the Lightspeed X-Series API, for the demo, the tests and the benchmarks."""
