"""security: anonymous submissions wait in a quarantine

Revision ID: 0008_security_quarantine
Revises: 0007_security_sessions
Create Date: 2026-12-02

``stories.quarantined`` is true for a story handed in without an account until an archivist lets
it into the review queue (or discards it). Existing stories are not quarantined.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_security_quarantine"
down_revision = "0007_security_sessions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("quarantined", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(batch_op.f("ix_stories_quarantined"), ["quarantined"], unique=False)


def downgrade():
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stories_quarantined"))
        batch_op.drop_column("quarantined")
