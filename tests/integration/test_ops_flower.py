"""``make flower`` (``python -m stack.flower``): basic auth on the UI, ``/healthcheck`` and ``/metrics``
open, no password on the command line, and a refusal to serve other interfaces without credentials."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from stack.flower import auth_problem, flower_command, is_loopback
from stack.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "flower-pw-5f1c9e"


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("", False), ("10.1.2.3", False), ("flower.example.com", False)],
)  # fmt: skip
def test_is_loopback(address, loopback):
    assert is_loopback(address) is loopback


@pytest.mark.parametrize(
    ("value", "address", "refused"),
    [
        (None, "127.0.0.1", None),
        ("", "localhost", None),
        (None, "0.0.0.0", "without authentication"),
        ("", "", "without authentication"),
        ("ops:pw", "0.0.0.0", None),
        ("ops:pw,viewer:pw2", "0.0.0.0", None),
        ("ops", "127.0.0.1", "malformed"),
        (":pw", "0.0.0.0", "malformed"),
        ("ops:", "0.0.0.0", "malformed"),
        ("ops:pw,", "0.0.0.0", "malformed"),
    ],
)
def test_auth_problem(value, address, refused):
    problem = auth_problem(value, address)
    assert (problem is None) if refused is None else (refused in problem)
    if problem and value:
        assert value.partition(":")[2] == "" or value.partition(":")[2] not in problem


def test_the_command_carries_no_credentials():
    command = flower_command("127.0.0.1", 5555, "var/flower.db")
    assert "--persistent=True" in command and "--db=var/flower.db" in command
    assert not any("basic" in part for part in command)


def _run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stack.flower", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "auth", "message"),
    [
        (("--address", "0.0.0.0"), None, "refusing to serve Flower on 0.0.0.0"),
        (("--address", "127.0.0.1"), "no-colon", "malformed"),
        (("--port", "0"), "ops:pw", "--port must be"),
    ],
)
def test_refusals_are_one_clear_line(args, auth, message):
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    if auth:
        env["FLOWER_BASIC_AUTH"] = auth
    done = _run(*args, env=env)
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_flower_serves_with_basic_auth(redis_url, tmp_path):
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "FLOWER_BASIC_AUTH": f"ops:{PASSWORD}"}
    db = tmp_path / "state" / "flower.db"
    proc = subprocess.Popen([sys.executable, "-m", "stack.flower", "--port", str(port), "--db", str(db)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")[-2000:]
            try:
                health = requests.get(f"{base}/healthcheck", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "flower did not answer within 60 s"
                time.sleep(0.3)
        assert health.status_code == 200 and health.text == "OK"  # no credentials needed
        assert requests.get(f"{base}/metrics", timeout=10).status_code == 200
        assert requests.get(f"{base}/", timeout=10).status_code == 401
        assert requests.get(f"{base}/", auth=("ops", "wrong"), timeout=10).status_code == 401
        assert requests.get(f"{base}/", auth=("ops", PASSWORD), timeout=10).status_code == 200
        assert requests.get(f"{base}/api/workers", timeout=10).status_code == 401
        # exec'd in place: the same process, and its command line shows no password
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
        assert "flower" in cmdline and PASSWORD not in cmdline
        assert "127.0.0.1" in cmdline and "--persistent=True" in cmdline
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stderr.close()
    assert list(db.parent.iterdir())  # persistent state written on shutdown
