"""The web dashboard and its JSON API: server-rendered pages under ``/``, JSON under
``/api/``, static files under ``/static/``.

The web app mounts :func:`dashboard_routes`; the CLI's ``greenloop dashboard
hash-password`` calls :func:`hash_password`.
"""

from greenloop.web.dashboard.auth import hash_password, verify_password
from greenloop.web.dashboard.routes import dashboard_routes

__all__ = ["dashboard_routes", "hash_password", "verify_password"]
