"""media15: audio and video recordings are media too (kind, duration, processing progress)

Revision ID: media15_recordings
Revises: perf17_public_order
Create Date: 2026-12-02

Every existing media row is an image. ``duration`` (seconds) is known for recordings from the
upload's probe; ``progress`` (0-100) is written by the recording job while it transcodes, so the
status page can say how far it is.
"""

import sqlalchemy as sa
from alembic import op

revision = "media15_recordings"
down_revision = "perf17_public_order"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("media_assets") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="image")
        )
        batch.add_column(sa.Column("duration", sa.Float(), nullable=True))
        batch.add_column(sa.Column("progress", sa.Integer(), nullable=True))
        batch.create_index("ix_media_assets_kind", ["kind"])


def downgrade():
    with op.batch_alter_table("media_assets") as batch:
        batch.drop_index("ix_media_assets_kind")
        batch.drop_column("progress")
        batch.drop_column("duration")
        batch.drop_column("kind")
