"""public memory: daily view counts of collections

Revision ID: 0004_public_views
Revises: 0003_merge
Create Date: 2026-11-25

One row per collection and day (no visitor data), for the "most viewed collections" indicator.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_public_views"
down_revision = "0003_merge"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "collection_views",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_collection_views_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection_id", "day", name=op.f("pk_collection_views")),
    )


def downgrade():
    op.drop_table("collection_views")
