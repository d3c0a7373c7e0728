"""GreenLoop as a Lightspeed add-on, all real processes (issue 19 acceptance): `greenloop
simulator serve` as the OAuth server, `greenloop serve` receiving the owner at
/oauth/callback (deny, then approve) and signed deliveries that move a group; commands
killed (SIGKILL, by the GREENLOOP_TEST_CRASH_AT test hook) at each point of a token
refresh and what the next command says; two processes refreshing at once; a revoked
connection stopping every command with one line and the auth exit code. No token or
client secret may appear in any output or log."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from greenloop.errors import AuthFailed
from greenloop.services import analysis, ingest
from greenloop.services import push as push_service
from greenloop.services.tokens import CRASH_ENV, REFRESH_REFUSED
from greenloop.store import oauth_repo
from tests.e2e.test_serve_support import (
    BIN,
    ServeProcess,
    free_port,
    greenloop,
    greenloop_env,
    inbox_depth,
    inbox_rows,
    simulator_process,
    wait_until,
)
from tests.integration.test_oauth_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    authorize,
    oauth_figures,
    query_of,
    sim_post,
)
from tests.simulation import settings_for

TOKEN = "e2e-oauth-personal-token-0123"
EVERGREEN = "GreenHaus Crew - Evergreen"
AUTH_EXIT = AuthFailed.exit_code


def simulator_args(*extra: str) -> list[str]:
    anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    anchor -= timedelta(days=35)
    args = ["--port", "0", "--token", TOKEN, "--seed", "21", "--customers", "120"]
    args += ["--days", "200", "--anchor", anchor.isoformat()]
    args += ["--oauth-client-id", CLIENT_ID, "--oauth-client-secret", CLIENT_SECRET]
    return [*args, *extra]


@pytest.fixture
def simulator() -> Iterator[str]:
    knobs = ["--webhook-delay-max-ms", "30", "--webhook-retry-base", "0.2"]
    with simulator_process(*simulator_args(*knobs)) as url:
        yield url


def oauth_env(
    sim: str, db_url: str, public_url: str = "https://greenloop.example"
) -> dict[str, str]:
    # No personal token anywhere: every request must go out on the connection.
    return greenloop_env(
        sim,
        "",
        db_url,
        GREENLOOP_LIGHTSPEED_CLIENT_ID=CLIENT_ID,
        GREENLOOP_LIGHTSPEED_CLIENT_SECRET=CLIENT_SECRET,
        GREENLOOP_LIGHTSPEED__AUTHORIZE_URL=f"{sim}/connect",
        GREENLOOP_JOBS__PUBLIC_URL=public_url,
    )


class Secrets:
    """Every token the database ever held during a test, and the client secret."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.values: set[str] = {CLIENT_SECRET}

    def note(self) -> None:
        with self.engine.connect() as conn:
            row = oauth_repo.read_connection(conn)
        if row is not None:
            self.values |= {row.access_token, row.refresh_token}

    def assert_absent(self, *texts: str) -> None:
        self.note()
        for text in texts:
            for value in self.values:
                assert value not in text


def run(args: list[str], env: dict[str, str], cwd: Path, seen: list[str]) -> Any:
    done = greenloop(*args, env=env, cwd=cwd)
    seen += [done.stdout, done.stderr]
    return done


def connect_by_cli(sim: str, env: dict[str, str], cwd: Path, seen: list[str]) -> None:
    started = run(["connect", "--json"], env, cwd, seen)
    assert started.returncode == 0, started.stderr
    back = authorize(sim, json.loads(started.stdout)["url"])
    args = ["connect", "--code", back["code"], "--state", back["state"]]
    finished = run([*args, "--domain-prefix", back["domain_prefix"]], env, cwd, seen)
    assert finished.returncode == 0, finished.stderr
    assert "connected" in finished.stdout


def status_of(env: dict[str, str], cwd: Path, seen: list[str]) -> dict[str, Any]:
    shown = run(["connect", "--status", "--json"], env, cwd, seen)
    assert shown.returncode == 0, shown.stderr
    status: dict[str, Any] = json.loads(shown.stdout)
    return status


def group_of(sim: str, customer_id: str) -> str:
    store = httpx.get(f"{sim}/_sim/store", timeout=60).json()
    names = {g["id"]: g["name"] for g in store["customer_groups"]}
    customer = next(c for c in store["customers"] if c["id"] == customer_id)
    return str(names.get(customer["customer_group_id"], ""))


def test_serve_connects_deny_then_approve_and_signed_webhooks_move_a_group(
    simulator: str, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    port = free_port()
    serve = ServeProcess(port, oauth_env(simulator, db_url, f"http://127.0.0.1:{port}"), tmp_path)
    env = serve.env
    secrets = Secrets(engine)
    seen: list[str] = []
    serve.start()
    try:
        # The owner says no: a clear page, nothing stored.
        started = run(["connect", "--json"], env, tmp_path, seen)
        assert started.returncode == 0, started.stderr
        back = authorize(simulator, json.loads(started.stdout)["url"], "deny")
        denied = httpx.get(f"{serve.url}/oauth/callback", params=back, timeout=30)
        assert denied.status_code == 403
        assert "denied access" in denied.text
        assert status_of(env, tmp_path, seen)["state"] == "not_connected"

        # The owner approves: serve trades the code and stores the tokens.
        started = run(["connect", "--json"], env, tmp_path, seen)
        url = json.loads(started.stdout)["url"]
        assert query_of(url)["redirect_uri"] == f"{serve.url}/oauth/callback"
        back = authorize(simulator, url)
        approved = httpx.get(f"{serve.url}/oauth/callback", params=back, timeout=30)
        assert approved.status_code == 200, approved.text
        assert "GreenLoop is connected" in approved.text
        status = status_of(env, tmp_path, seen)
        assert status["state"] == "connected"
        assert "sales:write" not in status["scopes"]
        secrets.note()

        # Sync, analyze and push on the connection (no personal token is configured).
        out = {"output_dir": str(tmp_path / "out")}
        ls = {"token": "", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        settings = settings_for(simulator, db_url, lightspeed=ls, jobs=out)
        ingest.run_sync(settings)
        analysis.analyze(settings)
        report, _ = push_service.run_push(settings)
        movable = [m.customer_id for m in report.plan.moves if m.tier not in {"Evergreen", "Bloom"}]
        assert movable

        # Subscriptions as the add-on: no URL token, deliveries signed.
        hook_url = f"{serve.url}/webhooks/lightspeed"
        registered = run(["webhooks", "register", "--url", hook_url, "--json"], env, tmp_path, seen)
        assert registered.returncode == 0, registered.stderr
        assert json.loads(registered.stdout)["url_token"] == "signed"
        hooks = httpx.get(f"{simulator}/_sim/store", timeout=60).json()["webhooks"]
        assert hooks
        assert all("token=" not in h["url"] for h in hooks)
        unsigned = httpx.post(hook_url, data={"payload": "{}"}, timeout=10)
        assert unsigned.status_code == 401

        customer_id = movable[0]
        register = httpx.get(f"{simulator}/_sim/store", timeout=60).json()["registers"][0]
        line = {"product_id": "p-1", "quantity": 1, "price": 2000}
        sale = {"register_id": register["id"], "customer_id": customer_id, "line_items": [line]}
        httpx.post(f"{simulator}/_sim/sales", json=sale, timeout=60).raise_for_status()
        wait_until(lambda: group_of(simulator, customer_id) == EVERGREEN, seconds=90, what="move")
        wait_until(lambda: inbox_depth(engine) == 0, seconds=60, what="the inbox to drain")
        encodings = {row["signature_encoding"] for row in inbox_rows(engine)}
        assert encodings
        assert "url-token" not in encodings
        assert "none" not in encodings

        # Revoked while serve runs: serve keeps serving, every command says so.
        sim_post(simulator, "/_sim/oauth/revoke")
        synced = run(["sync"], env, tmp_path, seen)
        assert synced.returncode == AUTH_EXIT
        assert synced.stderr.strip().endswith(REFRESH_REFUSED)
        assert httpx.get(f"{serve.url}/healthz", timeout=10).status_code in (200, 503)
        assert serve.proc is not None
        assert serve.proc.poll() is None
    finally:
        serve.stop()
    secrets.assert_absent(*seen, serve.log.read_text())


@pytest.mark.parametrize(
    ("point", "grace", "survives"),
    [
        ("after_mark", False, True),
        ("after_token_response", False, False),
        ("after_token_response", True, True),
        ("after_commit", False, True),
    ],
)
def test_killed_during_a_refresh_then_the_next_command(
    point: str, grace: bool, survives: bool, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    extra = ["--oauth-refresh-grace"] if grace else []
    with simulator_process(*simulator_args(*extra)) as sim:
        env = oauth_env(sim, db_url)
        secrets = Secrets(engine)
        seen: list[str] = []
        connect_by_cli(sim, env, tmp_path, seen)
        secrets.note()
        sim_post(sim, "/_sim/oauth/expire_access")

        killed = run(["webhooks", "list"], {**env, CRASH_ENV: point}, tmp_path, seen)
        assert killed.returncode == -9, killed.stderr  # SIGKILL, at the named point

        after = run(["sync"], env, tmp_path, seen)
        status = status_of(env, tmp_path, seen)
        if survives:
            assert after.returncode == 0, after.stderr
            assert status["state"] == "connected"
            assert not status["refresh_in_flight"]
        else:
            assert after.returncode == AUTH_EXIT
            assert after.stderr.strip().splitlines() == [f"error: {REFRESH_REFUSED}"]
            assert status["state"] == "needs_reconnect"
            again = run(["webhooks", "list"], env, tmp_path, seen)
            assert again.returncode == AUTH_EXIT
            assert REFRESH_REFUSED in again.stderr
        secrets.assert_absent(*seen)


def test_two_processes_refreshing_at_once_rotate_once(
    simulator: str, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    env = oauth_env(simulator, db_url)
    seen: list[str] = []
    connect_by_cli(simulator, env, tmp_path, seen)
    sim_post(simulator, "/_sim/oauth/expire_access")
    procs = [
        subprocess.Popen(
            [str(BIN), "webhooks", "list"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        seen += [out, err]
        assert proc.returncode == 0, err
    assert oauth_figures(simulator)["refresh_grants"] == 1
    assert status_of(env, tmp_path, seen)["refreshes"] == 1
    Secrets(engine).assert_absent(*seen)


def test_revoked_connection_every_command_says_so(
    simulator: str, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    env = oauth_env(simulator, db_url)
    seen: list[str] = []
    connect_by_cli(simulator, env, tmp_path, seen)
    assert run(["sync"], env, tmp_path, seen).returncode == 0
    assert run(["analyze"], env, tmp_path, seen).returncode == 0
    secrets = Secrets(engine)
    secrets.note()
    sim_post(simulator, "/_sim/oauth/revoke")
    for args in (["sync"], ["tiers", "push"], ["webhooks", "process"], ["webhooks", "list"]):
        done = run(args, env, tmp_path, seen)
        assert done.returncode == AUTH_EXIT, (args, done.stdout, done.stderr)
        assert done.stderr.strip().splitlines()[-1] == f"error: {REFRESH_REFUSED}", args
    daily = run(["run", "daily"], env, tmp_path, seen)
    assert daily.returncode == AUTH_EXIT
    assert REFRESH_REFUSED in daily.stdout + daily.stderr
    secrets.assert_absent(*seen)
