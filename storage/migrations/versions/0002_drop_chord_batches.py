"""Drop ``chord_batches``: no chord is sent since paced dispatch (runs and their ledgers live in Redis,
``dispatch/``), so the hung-chord watchdog's table is never written.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_chord_batches_open", table_name="chord_batches")
    op.drop_table("chord_batches")


def downgrade() -> None:
    op.create_table(
        "chord_batches",
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(32), nullable=False),
        sa.Column("callback", sa.String(255), nullable=False),
        sa.Column("task_ids", sa.JSON(), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redriven", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id"),
    )
    op.create_index("ix_chord_batches_open", "chord_batches", ["completed_at", "deadline"])
