"""``runtime.cli``: what ends an entry point in one line (exit status 2), what ends it quietly (Ctrl-C, 130)
and what keeps its traceback (a bug). The failures are real: settings read from a bad environment, a
connection refused by a port nothing listens on."""

from __future__ import annotations

import socket

import pytest
import redis
from sqlalchemy import create_engine, text

from runtime.cli import Parser, UsageError, outcome, positive_seconds, run_main
from runtime.settings import Settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _line(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_a_configuration_error_is_one_line_naming_the_variable(capsys):
    assert outcome(lambda: Settings.from_env({"TICKERBEAT_POOLS": "api_call=3"})) == 2
    assert _line(capsys) == (
        "tickerbeat: configuration error: TICKERBEAT_POOLS: unknown pool 'api_call'; the pools are api_calls, "
        "compute_intensive, database_tasks"
    )


def test_an_unreachable_redis_names_what_was_tried_without_the_password(capsys, monkeypatch):
    url = f"redis://:hunter2@127.0.0.1:{_closed_port()}/0"
    monkeypatch.setenv("REDIS_URL", url)
    assert outcome(lambda: redis.Redis.from_url(url, socket_connect_timeout=2).ping()) == 2
    line = _line(capsys)
    assert line.startswith("tickerbeat: cannot reach Redis (") and "127.0.0.1" in line
    assert "redis://:***@127.0.0.1" in line and "hunter2" not in line


def test_an_unreachable_database_names_what_was_tried_without_the_password(capsys, monkeypatch):
    url = f"postgresql+psycopg://bob:hunter2@127.0.0.1:{_closed_port()}/x?connect_timeout=2"
    monkeypatch.setenv("DATABASE_URL", url)

    def query() -> None:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    assert outcome(query) == 2
    line = _line(capsys)
    assert line.startswith("tickerbeat: cannot reach the database postgresql+psycopg://bob:***@127.0.0.1:")
    assert "hunter2" not in line and "check DATABASE_URL" in line


def test_a_quota_journal_without_its_table_says_to_migrate_not_that_redis_is_down(
    capsys, monkeypatch, tmp_path
):
    from ratelimits import QuotaUnavailable

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("DATABASE_URL", url)

    def journal_read() -> None:
        with create_engine(url).connect() as connection:
            try:
                connection.execute(text("SELECT * FROM quota_grants"))
            except Exception as exc:
                raise QuotaUnavailable("quota journal unavailable while restoring 'yahoo'") from exc

    assert outcome(journal_read) == 2
    line = _line(capsys)
    assert (
        line.startswith(f"tickerbeat: the database {url} lacks tickerbeat's schema (")
        and "make migrate" in line
    )
    assert "Redis" not in line


def test_a_storage_error_is_one_line(capsys, tmp_path):
    from storage.migrate import upgrade

    url = f"postgresql+psycopg://bob:hunter2@127.0.0.1:{_closed_port()}/x?connect_timeout=2"
    assert outcome(lambda: upgrade(url)) == 2
    line = _line(capsys)
    assert (
        line.startswith("tickerbeat: database: migrating postgresql+psycopg://bob:***@")
        and "hunter2" not in line
    )


def test_a_usage_error_is_its_message(capsys):
    def main() -> int:
        raise UsageError("cannot listen on 127.0.0.1:9102: Address already in use")

    assert outcome(main) == 2
    assert _line(capsys) == "tickerbeat: cannot listen on 127.0.0.1:9102: Address already in use"


def test_ctrl_c_is_130_and_quiet(capsys):
    def main() -> int:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exited:
        run_main(main)
    assert exited.value.code == 130
    assert capsys.readouterr() == ("", "")


def test_a_bug_keeps_its_traceback():
    def main() -> int:
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):
        outcome(main)


def test_the_status_of_main_is_the_exit_status():
    for returned, status in ((None, 0), (0, 0), (1, 1)):
        with pytest.raises(SystemExit) as exited:
            run_main(lambda returned=returned: returned)
        assert exited.value.code == status


def test_the_parser_says_a_usage_error_in_one_line(capsys):
    parser = Parser(prog="python -m example")
    parser.add_argument("--timeout", type=positive_seconds)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("show").add_argument("--tier", type=int)
    for argv, says in (
        (
            ["--timeout", "-5"],
            "python -m example: error: argument --timeout: must be a number of seconds above 0",
        ),
        (["--timeout", "soon"], "python -m example: error: argument --timeout: expected a number of seconds"),
        (["--timeout", "nan"], "must be a number of seconds above 0, got 'nan'"),
        (["show", "--tier", "x"], "python -m example show: error: argument --tier: invalid int value: 'x'"),
    ):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(argv)
        assert exited.value.code == 2
        assert says in _line(capsys)
    assert parser.parse_args(["--timeout", "0.5"]).timeout == 0.5
