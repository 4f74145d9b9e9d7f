"""Durable dispatch runs and per-run API usage (issue 10): what Redis loses in a restart without its data can
be re-driven, and a callback that runs again does not count its calls twice.

- ``dispatch_runs``: each run of the paced dispatcher as admitted, until it completes;
- ``quota_grants``: the quota journal, written ahead of quota decisions (``ratelimits.restore``);
- ``api_usage`` gains ``run_id`` in its key: one row per run, set (not added to) by the run's callback.
  Rows from before keep ``run_id`` '' (counts not tied to a run).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_ID = 128
COUNTS = ("calls", "ok", "throttled", "quota_exhausted", "errors", "deferred")


def upgrade() -> None:
    op.create_table(
        "dispatch_runs",
        sa.Column("id", sa.String(RUN_ID), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("redriven", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dispatch_runs_state", "dispatch_runs", ["state"])
    op.create_table(
        "quota_grants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("earliest", sa.Float(), nullable=False),
        sa.Column("latest", sa.Float(), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quota_grants_provider_latest", "quota_grants", ["provider", "latest"])
    _rebuild_usage(("provider", "day", "run_id"), "''")


def _rebuild_usage(key: tuple[str, ...], run_id: str | None) -> None:
    """``api_usage`` again with primary key ``key``, its rows copied (``run_id``: the SQL value of the new
    column, or None to leave it out). A new table, not ALTERs: SQLite cannot change a primary key."""
    columns = [
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
    ]
    if run_id is not None:
        columns.append(sa.Column("run_id", sa.String(RUN_ID), nullable=False))
    columns += [sa.Column(c, sa.Integer(), nullable=False) for c in COUNTS]
    op.create_table("api_usage_new", *columns, sa.PrimaryKeyConstraint(*key))
    names = ", ".join(("provider", "day", *(["run_id"] if run_id is not None else []), *COUNTS))
    values = ", ".join(("provider", "day", *([run_id] if run_id is not None else []), *COUNTS))
    op.execute(f"INSERT INTO api_usage_new ({names}) SELECT {values} FROM api_usage")
    op.drop_table("api_usage")
    op.rename_table("api_usage_new", "api_usage")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE api_usage RENAME CONSTRAINT api_usage_new_pkey TO api_usage_pkey")


def downgrade() -> None:
    # A day's per-run rows become one row again (their sum): nothing counted is lost.
    sums = ", ".join(f"SUM({c}) AS {c}" for c in COUNTS)
    op.execute(
        f"CREATE TABLE api_usage_summed AS SELECT provider, day, {sums} FROM api_usage GROUP BY provider, day"
    )
    op.execute("DELETE FROM api_usage")
    _rebuild_usage(("provider", "day"), None)
    op.execute(f"INSERT INTO api_usage (provider, day, {', '.join(COUNTS)}) SELECT * FROM api_usage_summed")
    op.drop_table("api_usage_summed")
    op.drop_index("ix_quota_grants_provider_latest", table_name="quota_grants")
    op.drop_table("quota_grants")
    op.drop_index("ix_dispatch_runs_state", table_name="dispatch_runs")
    op.drop_table("dispatch_runs")
