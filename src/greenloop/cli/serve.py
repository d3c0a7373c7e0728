"""`greenloop serve`: the long-running process."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from greenloop.cli.dashboard import dashboard_app
from greenloop.cli.support import ConfigOption, VerboseOption, settings_from, translate_errors

__all__ = ["register"]


@translate_errors
def serve_command(
    host: Annotated[
        str | None, typer.Option("--host", help="Default: jobs.host (127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Default: jobs.port (8080).")] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve HTTP only; run a worker elsewhere.")
    ] = False,
    worker_only: Annotated[
        bool, typer.Option("--worker-only", help="Process the inbox and schedule; no HTTP.")
    ] = False,
    no_schedule: Annotated[
        bool, typer.Option("--no-schedule", help="No daily job and no poll in this process.")
    ] = False,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Webhook receiver + inbox worker + reconciliation poll + daily job + /metrics + the dashboard under / and its JSON API under /api/.

    SIGTERM or Ctrl-C stops it gracefully: deliveries being processed go back to the queue.

    Example: greenloop serve --port 8080
    """
    import uvicorn  # only the long-running process needs the server

    from greenloop.runtime.service import Service
    from greenloop.web.dashboard.logins import proxy_options

    settings = settings_from(config, verbose)
    service = Service(settings)
    service.start(worker=not no_worker, schedule=not no_schedule)
    try:
        if worker_only:
            stopped = threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stopped.set())
            typer.echo("greenloop worker running (no HTTP); SIGTERM stops it")
            stopped.wait()
            return
        app = service.web_app()
        bind_host = host or settings.jobs.host
        bind_port = settings.jobs.port if port is None else port
        typer.echo(f"greenloop serving on http://{bind_host}:{bind_port}")
        # No access log: a webhook URL may carry its ?token=. X-Forwarded-For is believed
        # only from dashboard.trusted_proxies: login limits count per client address.
        uvicorn.run(
            app,
            host=bind_host,
            port=bind_port,
            access_log=False,
            log_level="warning",
            **proxy_options(settings.dashboard),
        )
    finally:
        service.shutdown()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.add_typer(dashboard_app, name="dashboard")
