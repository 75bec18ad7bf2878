"""exhibit14: printable exhibitions of collections (build state of the A3 panels and A4 booklet)

Revision ID: exhibit14_exhibitions
Revises: transcripts15_transcripts
Create Date: 2026-12-02

One row per collection whose exhibition was asked for; the PDFs themselves are objects under
``exhibitions/<collection id>/`` (``webapp.media.keys``). No data to carry over: exhibitions
are built on demand and when a collection changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "exhibit14_exhibitions"
down_revision = "transcripts15_transcripts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "exhibitions",
        sa.Column("collection_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("wanted", sa.String(length=64), nullable=True),
        sa.Column("built", sa.String(length=64), nullable=True),
        sa.Column("story_ids", sa.JSON(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("panels_bytes", sa.Integer(), nullable=True),
        sa.Column("booklet_bytes", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["collection_id"], ["collections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("collection_id"),
    )


def downgrade():
    op.drop_table("exhibitions")
