"""``abm dashboard``: serve the live dashboard (`abm.dashboard.app`) locally.

`abm.cli.main` calls `register` with its sub-parsers. The command checks that the ``viz``
extra is installed and that the scenario is valid, then runs ``solara run abm.dashboard.app`` in a
child process (production mode: no auto-reload, and no call home from the page) with the
scenario passed in ``$ABM_DASHBOARD_SCENARIO``, prints the URL and waits until the server
stops (Ctrl-C). SIGTERM, SIGINT and SIGHUP sent to the command are forwarded to the server,
and the command waits for it to exit (killing it after `STOP_TIMEOUT_S`), so stopping
``abm dashboard`` never leaves a server holding the port. User errors are raised as
`abm.cli.common.CliError` or the library's `abm.errors.AbmError` (exit code 2). This module
does not import solara, and imports `abm.dashboard.model` (and with it Mesa) only when a
command needs it.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

from abm.cli.common import fail

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# modules the app imports, and the distribution that serves the page's JavaScript locally
VIZ_MODULES = ("solara", "altair", "ipyvuetify", "matplotlib")
VIZ_ASSETS = "solara-assets"
VIZ_INSTALL_HINT = "pip install -e '.[viz]'"
# solara warns on every page load over plain http from a host other than "localhost" that it
# falls back to samesite=lax session cookies: the right cookie for a local dashboard, and
# the advice (https, proxy headers for iframes) does not apply to one
SAMESITE_WARNING = "ignore:Cookies with samesite=none require https:UserWarning"
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""Signals the command passes on to the server before waiting for it to exit."""
STOP_TIMEOUT_S = 10.0
"""How long the server may take to stop after a forwarded signal before it is killed."""


def register(subparsers: Any) -> None:
    """Add the ``dashboard`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "dashboard",
        help="serve the live dashboard of a scenario in the browser (needs the viz extra)",
        description="Serve a live dashboard (Mesa SolaraViz) of SCENARIO: price, spread and "
        "depth, the book ladder, market makers' inventory and P&L, the contagion network.",
    )
    parser.add_argument(
        "scenario", nargs="?", default=None, help="scenario YAML file (default: the baseline)"
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Run ``abm dashboard``; return the server's exit code (0 after Ctrl-C handling).

    Raises:
        AbmError: If the viz extra is missing, the scenario is invalid, the port is
            out of range or already in use.
    """
    missing = missing_viz_packages()
    if missing:
        fail(
            f"the dashboard needs the viz extra (missing: {', '.join(missing)}); "
            f"install it with: {VIZ_INSTALL_HINT}"
        )
    from abm.dashboard.model import resolve_scenario_path
    from abm.scenario.schema import load_scenario

    scenario_path = resolve_scenario_path(args.scenario)
    load_scenario(scenario_path)
    scenario_path = scenario_path.resolve()  # the server may run from another directory
    if not 1 <= args.port <= 65535:
        fail(f"--port: must be between 1 and 65535, got {args.port}")
    if not port_is_free(args.host, args.port):
        fail(f"--port: {args.host}:{args.port} is in use or not available; choose another port")
    print(f"abm dashboard: {scenario_path} at {dashboard_url(args.host, args.port)} (Ctrl-C stops)")
    sys.stdout.flush()
    return serve(server_command(args.host, args.port), server_env(scenario_path))


def serve(
    command: Sequence[str], env: dict[str, str], *, stop_timeout_s: float = STOP_TIMEOUT_S
) -> int:
    """Run the server ``command`` until it exits, passing on the signals that stop it.

    While the server runs, each of `FORWARDED_SIGNALS` received here is sent on to it (a
    signal that arrives while it starts is sent once it has started); the server then has
    ``stop_timeout_s`` seconds to exit before it is killed. Without this, SIGTERM would end
    this process at once and leave the server running, its port open. The handlers in
    place before are restored on return.

    Returns:
        The server's exit code, or 128 + the signal number after SIGTERM or SIGHUP (what a
        shell reports for a process that signal ended).

    Raises:
        KeyboardInterrupt: After SIGINT (Ctrl-C), once the server has exited, so that
            `abm.cli.main` reports the interruption (exit code 130).
    """
    received: list[int] = []
    server: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if server and server[0].poll() is None:
            server[0].send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        process = subprocess.Popen(command, env=env)
        server.append(process)
        if received and process.poll() is None:  # a signal came while it started
            process.send_signal(received[0])
        code = _wait_stopping(process, received, stop_timeout_s)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        # after an error here (or a KeyboardInterrupt raised before our handler was in
        # place), make sure the server is gone before the command returns
        if server and server[0].poll() is None:
            _stop(server[0], stop_timeout_s)
    if received:
        name = signal.Signals(received[0]).name
        print(f"abm dashboard: stopped by {name}; the server has exited", file=sys.stderr)
        if received[0] == signal.SIGINT:
            raise KeyboardInterrupt
        return 128 + received[0]
    return code


def _wait_stopping(
    process: subprocess.Popen[bytes], received: list[int], stop_timeout_s: float
) -> int:
    """Wait for ``process``; once a signal is in ``received``, kill it after the timeout."""
    deadline: float | None = None
    while True:
        try:
            # a short timeout, so that a signal handled meanwhile starts the deadline
            return process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
        if received and deadline is None:
            deadline = time.monotonic() + stop_timeout_s
        if deadline is not None and time.monotonic() >= deadline:
            process.kill()
            return process.wait()


def _stop(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Terminate ``process``, and kill it if it has not exited after ``timeout_s``."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def missing_viz_packages() -> list[str]:
    """Names of the viz extra's packages that are not installed (empty when all are)."""
    import importlib.metadata
    import importlib.util

    missing = [name for name in VIZ_MODULES if importlib.util.find_spec(name) is None]
    try:
        importlib.metadata.distribution(VIZ_ASSETS)
    except importlib.metadata.PackageNotFoundError:
        missing.append(VIZ_ASSETS)
    return missing


def server_command(host: str, port: int) -> list[str]:
    """The command that serves `abm.dashboard.app` (run it with `server_env`).

    Production mode (no auto-reload), no browser opened, and solara's cookie warning for
    plain-http hosts silenced (`SAMESITE_WARNING`).
    """
    return [
        sys.executable,
        "-W",
        SAMESITE_WARNING,
        "-m",
        "solara",
        "run",
        "abm.dashboard.app",
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-open",
    ]


def server_env(scenario_path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The server's environment: ours plus the scenario to show and no solara telemetry.

    ``scenario_path`` None means the dashboard's default, `abm.dashboard.model.DEFAULT_SCENARIO`.
    """
    from abm.dashboard.model import DEFAULT_SCENARIO, SCENARIO_ENV, resolve_scenario_path

    if scenario_path is None:
        scenario_path = DEFAULT_SCENARIO
    env = dict(os.environ)
    env[SCENARIO_ENV] = str(resolve_scenario_path(scenario_path).resolve())
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "false"
    return env


def dashboard_url(host: str, port: int) -> str:
    """The address to open in a browser."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def port_is_free(host: str, port: int) -> bool:
    """True if a server can listen on ``host:port`` now (it may still be taken later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # as uvicorn does: a port left in TIME_WAIT by a stopped server is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
