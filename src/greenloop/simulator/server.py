"""Serving a simulator over real HTTP: in the foreground, or on a background thread.

The listening socket is bound here rather than by uvicorn, so the real port is known
before serving starts, even when port 0 asks the OS to pick one.
"""

from __future__ import annotations

import gc
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from greenloop.simulator.app import app_for, create_context
from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.model import StoreData
from greenloop.simulator.state import SimState

__all__ = ["RunningServer", "bind_socket", "run_simulator", "serve", "start_in_thread"]


def bind_socket(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        # Listening at once means a client handed the URL before the server loop runs
        # waits in the backlog instead of being refused.
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _server(app: ASGIApp, *, graceful_seconds: int) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=graceful_seconds,
    )
    return uvicorn.Server(config)


def serve(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until interrupted (Ctrl-C); ``on_ready`` receives the base URL first."""
    sock = bind_socket(host, port)
    with sock:
        if on_ready is not None:
            on_ready(_url_of(sock))
        _server(app, graceful_seconds=5).run(sockets=[sock])


class RunningServer:
    """A server on a background thread; ``url`` is e.g. ``http://127.0.0.1:54321``."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, url: str) -> None:
        self._server = server
        self._thread = thread
        self.url = url

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_in_thread(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 10.0,
    graceful_seconds: int = 1,
) -> RunningServer:
    """Start serving ``app`` on a daemon thread and return once it accepts requests.

    ``graceful_seconds`` bounds how long :meth:`RunningServer.stop` waits for requests
    still in flight (a request hung by the timeout fault, for one).
    """
    sock = bind_socket(host, port)
    url = _url_of(sock)
    server = _server(app, graceful_seconds=graceful_seconds)

    def run() -> None:
        with sock:
            server.run(sockets=[sock])

    thread = threading.Thread(target=run, name=f"simulator {url}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the simulator did not start at {url}")
        time.sleep(0.005)
    return RunningServer(server, thread, url)


def run_simulator(
    store: StoreData,
    config: SimulatorConfig,
    *,
    host: str,
    port: int,
    echo: Callable[[str], None],
) -> None:
    """Load ``store`` and serve it in the foreground, announcing URL and token first.

    Webhooks are sent in the background to whatever subscriptions clients create."""
    # The store lives as long as this process: keeping its objects out of the garbage
    # collector's scans keeps large stores from slowing every request down.
    gc.freeze()
    ctx = create_context(SimState(store, id_seed=config.fault_seed), config)
    app = app_for(ctx)
    gc.freeze()

    def announce(url: str) -> None:
        echo(f"Lightspeed X-Series simulator at {url}/api/2.0 (control API at {url}/_sim)")
        echo(f"Bearer token: {config.token}")
        if config.oauth_client_id:
            # The client id is public; the secret is the caller's and never printed.
            echo(
                f"OAuth app {config.oauth_client_id}: authorize at {url}/connect, "
                f"tokens at {url}/api/1.0/token"
            )

    ctx.webhooks.start()
    try:
        serve(app, host, port, on_ready=announce)
    finally:
        ctx.webhooks.close()
