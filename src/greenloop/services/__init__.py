"""One module per use case, shared by the CLI, the dashboard and the running service.

Each function builds what it needs from ``Settings`` (engine, client), does one job and
returns a result object; errors are ``GreenLoopError`` subclasses for the caller to
translate.
"""
