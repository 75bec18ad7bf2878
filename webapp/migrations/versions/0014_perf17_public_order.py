"""performance: the public lists read published stories newest first from one index

Revision ID: perf17_public_order
Revises: exhibit14_exhibitions
Create Date: 2026-12-02

``ix_stories_public_order`` (status, published_at, id) serves ``WHERE status = 'published'
ORDER BY published_at DESC, id DESC LIMIT n`` (home page, organisation and place pages, feeds)
without sorting every published story.
"""

from alembic import op

revision = "perf17_public_order"
down_revision = "exhibit14_exhibitions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_stories_public_order", "stories", ["status", "published_at", "id"], unique=False
    )


def downgrade():
    op.drop_index("ix_stories_public_order", table_name="stories")
