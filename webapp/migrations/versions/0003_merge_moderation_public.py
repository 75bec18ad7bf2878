"""merge the moderation and public-pages branches

Revision ID: 0003_merge
Revises: 0002_moderation, 0002_public
Create Date: 2026-11-25

Both branches were written in parallel on top of 0001; this revision only joins them so that
``passages db upgrade`` has one head again.
"""

revision = "0003_merge"
down_revision = ("0002_moderation", "0002_public")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
