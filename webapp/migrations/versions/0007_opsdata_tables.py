"""operations tables: object claims, idempotency records, check runs

Revision ID: 0007_opsdata_tables
Revises: 0007_search_story_places
Create Date: 2026-12-02

New tables only (nothing existing is altered), so the same operations work on SQLite and
PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_opsdata_tables"
down_revision = "0007_search_story_places"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "object_claims",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(32), nullable=False, server_default=""),
    )
    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("caller", sa.String(80), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("story_id", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("caller", "key", name="uq_idempotency_caller_key"),
    )
    op.create_index(
        "ix_idempotency_records_created_at", "idempotency_records", ["created_at"]
    )
    op.create_table(
        "check_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("fixity", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("repair", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("problems", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_check_runs_started_at", "check_runs", ["started_at"])


def downgrade():
    op.drop_index("ix_check_runs_started_at", table_name="check_runs")
    op.drop_table("check_runs")
    op.drop_index("ix_idempotency_records_created_at", table_name="idempotency_records")
    op.drop_table("idempotency_records")
    op.drop_table("object_claims")
