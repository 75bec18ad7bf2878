"""consent15: a guardian's consent as the contributor declared it with a recording's upload

Revision ID: consent15_guardian_declared
Revises: class14_teaching
Create Date: 2026-12-02

One nullable column: the name the contributor gave for the guardian who agreed. It never lifts
the publication blocker by itself (only a teacher or an archivist records a guardian's consent).
"""

import sqlalchemy as sa
from alembic import op

revision = "consent15_guardian_declared"
down_revision = "class14_teaching"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("recording_consents") as batch:
        batch.add_column(sa.Column("guardian_declared_by", sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table("recording_consents") as batch:
        batch.drop_column("guardian_declared_by")
