"""`abm dashboard` passes SIGTERM, SIGINT and SIGHUP on to its server and waits for it.

Issue 16, class 11: SIGTERM ended the command at once and left the solara server running
with its port open. The end-to-end test starts the real command on a free port, waits until
the server listens, signals the command alone (not its process group, as a supervisor such
as systemd or ``kill PID`` does) and checks that the command exits, the server process is
gone and the port is closed. The `serve` tests use a small Python child instead of solara.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from abm.cli.dashboard import missing_viz_packages, serve

SERVER_START_S = 120.0  # solara's first start imports a lot on a busy 2-core machine
STOP_S = 20.0  # the command's own kill deadline (STOP_TIMEOUT_S, 10 s) plus slack


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _children(pid: int) -> list[int]:
    """Pids whose parent is ``pid``, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # the fields after the parenthesised command name: state, ppid, ...
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(bool(missing_viz_packages()), reason="needs the viz extra (solara)")
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name
)
def test_dashboard_command_signal_stops_the_server_and_closes_the_port(
    signum: signal.Signals,
) -> None:
    """After SIGTERM/SIGHUP/SIGINT to `abm dashboard`, its server is gone and the port closed."""
    port = _free_port()
    command = [sys.executable, "-m", "abm", "dashboard", "--port", str(port)]
    parent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    servers: list[int] = []
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not _listening(port):
            assert parent.poll() is None, parent.stderr.read().decode() if parent.stderr else ""
            assert time.monotonic() < deadline, "the dashboard never listened"
            time.sleep(0.2)
        servers = _children(parent.pid)
        assert servers, "the dashboard server should run as a child of the command"
        parent.send_signal(signum)
        code = parent.wait(timeout=STOP_S)
        gone_by = time.monotonic() + 5.0
        while any(_alive(pid) for pid in servers) and time.monotonic() < gone_by:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in servers), "the server outlived the command"
        assert not _listening(port), f"port {port} is still open"
        assert code == 128 + signum
        stderr = parent.stderr.read().decode() if parent.stderr else ""
        assert f"stopped by {signum.name}" in stderr
    finally:
        for pid in [parent.pid, *servers]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        parent.wait()


# ----- serve, with a plain Python child ------------------------------------------------

# the child marks that it runs (so the handler is in place), then sleeps; IGNORE=1 makes it
# ignore SIGTERM, as a hung server would
CHILD = """
import os, signal, sys, time
if os.environ.get("IGNORE") == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").close()
time.sleep(60)
"""


def _signal_when_ready(ready: Path, signum: int) -> threading.Thread:
    """Send ``signum`` to this process once the child has created ``ready``."""

    def send() -> None:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signum)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_serve_returns_the_server_exit_code_without_a_signal(tmp_path: Path) -> None:
    """A server that exits by itself gives its own code; the handlers are restored."""
    before = signal.getsignal(signal.SIGTERM)
    code = serve([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ))
    assert code == 3
    assert signal.getsignal(signal.SIGTERM) is before


def test_serve_forwards_sigterm_and_waits_for_the_server(tmp_path: Path) -> None:
    """SIGTERM reaches the server, which exits; serve returns 143 and restores the handler."""
    ready = tmp_path / "ready"
    before = signal.getsignal(signal.SIGTERM)
    sender = _signal_when_ready(ready, signal.SIGTERM)
    start = time.monotonic()
    code = serve([sys.executable, "-c", CHILD, str(ready)], dict(os.environ))
    sender.join()
    assert code == 128 + signal.SIGTERM
    assert time.monotonic() - start < 30  # the child would sleep 60 s unsignalled
    assert signal.getsignal(signal.SIGTERM) is before


def test_serve_kills_a_server_that_ignores_the_signal(tmp_path: Path) -> None:
    """A server that ignores SIGTERM is killed after stop_timeout_s, not waited for forever."""
    ready = tmp_path / "ready"
    sender = _signal_when_ready(ready, signal.SIGTERM)
    start = time.monotonic()
    env = {**os.environ, "IGNORE": "1"}
    code = serve([sys.executable, "-c", CHILD, str(ready)], env, stop_timeout_s=0.5)
    sender.join()
    assert code == 128 + signal.SIGTERM
    assert time.monotonic() - start < 30


def test_serve_sigint_raises_keyboard_interrupt_after_the_server_exits(tmp_path: Path) -> None:
    """Ctrl-C ends in KeyboardInterrupt (main's exit code 130) once the server is gone."""
    ready = tmp_path / "ready"
    sender = _signal_when_ready(ready, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        serve([sys.executable, "-c", CHILD, str(ready)], dict(os.environ))
    sender.join()
