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
    # Plain ALTER TABLE ADD COLUMN, not batch mode: a batch rebuild of ``stories`` on SQLite would
    # drop its AUTOINCREMENT (permanent ids, migration 0006). SQLite adds a NOT NULL column with
    # a constant default in place.
    op.add_column(
        "stories",
        sa.Column("quarantined", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(op.f("ix_stories_quarantined"), "stories", ["quarantined"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_stories_quarantined"), table_name="stories")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("stories", "quarantined")
        return
    # SQLite cannot always drop a column in place; rebuild, keeping AUTOINCREMENT (0006).
    op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table(
        "stories", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("quarantined")
    op.execute("PRAGMA foreign_keys=ON")
