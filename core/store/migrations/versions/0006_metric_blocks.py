"""metric blocks: per metric and per block of 100 steps, the count, first, last, lowest and
highest point, written with the points, so a long run's chart reads the blocks instead of every
point; existing points are summarised once here

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BLOCK_STEPS = 100  # core.store._curves.BLOCK_STEPS when this migration was written


def upgrade() -> None:
    op.create_table(
        "metric_blocks",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("first_step", sa.Integer(), nullable=False),
        sa.Column("first_value", sa.Float(), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("min_step", sa.Integer(), nullable=True),
        sa.Column("min_value", sa.Float(), nullable=True),
        sa.Column("max_step", sa.Integer(), nullable=True),
        sa.Column("max_value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_metric_blocks_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "key", "block", name=op.f("pk_metric_blocks")),
    )
    # The points already stored, summarised once (window functions: SQLite >= 3.25, PostgreSQL).
    # A block is floor(step / BLOCK_STEPS), as Python's // computes it.
    w = BLOCK_STEPS
    block = f"(CASE WHEN step >= 0 THEN step / {w} ELSE -((-step - 1) / {w}) - 1 END)"
    part = f"PARTITION BY run_id, key, {block}"
    op.execute(
        f"""
        INSERT INTO metric_blocks (run_id, key, block, n, first_step, first_value, last_step,
            last_value, min_step, min_value, max_step, max_value)
        SELECT run_id, key, blk, COUNT(*),
            MIN(CASE WHEN r_first = 1 THEN step END), MIN(CASE WHEN r_first = 1 THEN value END),
            MIN(CASE WHEN r_last = 1 THEN step END), MIN(CASE WHEN r_last = 1 THEN value END),
            MIN(CASE WHEN r_min = 1 AND value IS NOT NULL THEN step END), MIN(value),
            MIN(CASE WHEN r_max = 1 AND value IS NOT NULL THEN step END), MAX(value)
        FROM (
            SELECT run_id, key, step, value, {block} AS blk,
                ROW_NUMBER() OVER ({part} ORDER BY step, id) AS r_first,
                ROW_NUMBER() OVER ({part} ORDER BY step DESC, id DESC) AS r_last,
                ROW_NUMBER() OVER ({part} ORDER BY CASE WHEN value IS NULL THEN 1 ELSE 0 END,
                    value, step, id) AS r_min,
                ROW_NUMBER() OVER ({part} ORDER BY CASE WHEN value IS NULL THEN 1 ELSE 0 END,
                    value DESC, step, id) AS r_max
            FROM metrics
        ) AS ranked
        GROUP BY run_id, key, blk
        """
    )


def downgrade() -> None:
    op.drop_table("metric_blocks")
