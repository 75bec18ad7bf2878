"""public memory: a cover image chosen by the archivist for each collection

Revision ID: 0005_collection_cover
Revises: 0004_public_views
Create Date: 2026-11-25

Nullable: a collection without a chosen cover keeps the automatic one (first ready image of the
first published story). Deleting the image (erasure) clears the choice instead of failing.
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_collection_cover"
down_revision = "0004_public_views"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cover_media_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_collections_cover_media_id_media_assets"),
            "media_assets",
            ["cover_media_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_collections_cover_media_id_media_assets"), type_="foreignkey"
        )
        batch_op.drop_column("cover_media_id")
