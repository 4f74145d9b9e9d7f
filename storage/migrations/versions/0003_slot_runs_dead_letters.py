"""Beat slot claims and dead letters in the database (issue 10): a slot's claim survives a worker's death
and a Redis restart; a message delivered too often is kept where operators can see and replay it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def instant(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "slot_runs",
        sa.Column("entry", sa.String(64), nullable=False),
        sa.Column("slot", sa.String(32), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        instant("started_at"),
        instant("finished_at", True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('running', 'done', 'failed')", name="ck_slot_runs_state"),
        sa.PrimaryKeyConstraint("entry", "slot"),
    )
    op.create_index("ix_slot_runs_task_id", "slot_runs", ["task_id"])
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(32), nullable=True),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        instant("first_seen"),
        instant("last_seen"),
        sa.Column("reason", sa.Text(), nullable=False),
        instant("replayed_at", True),
        sa.Column("replayed_as", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", name="uq_dead_letters_task_id"),
    )


def downgrade() -> None:
    op.drop_table("dead_letters")
    op.drop_index("ix_slot_runs_task_id", table_name="slot_runs")
    op.drop_table("slot_runs")
