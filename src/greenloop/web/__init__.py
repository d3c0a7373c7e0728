"""The ASGI side of GreenLoop: webhook endpoints, health (and, later, the dashboard).

Build the app with :func:`greenloop.web.app.create_app`; nothing is created at import.
"""
