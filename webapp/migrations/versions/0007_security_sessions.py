"""security: session epochs, API token expiry and revocation time, login throttle counters

Revision ID: 0007_security_sessions
Revises: 0007_opsdata_tables
Create Date: 2026-12-02

``users.session_epoch`` ends sessions server-side (it is part of the id in the session cookie);
``api_tokens.expires_at``/``revoked_at`` give tokens a lifetime and a revocation date;
``login_throttles`` replaces the per-user lockout columns with per-account and per-address
counters updated atomically (the old columns stay, unused, so a downgrade loses nothing).
Existing tokens keep no expiry (``NULL``): their owners did not agree to one.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_security_sessions"
down_revision = "0007_opsdata_tables"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("penalty", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("blocked_until", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )


def downgrade():
    op.drop_table("login_throttles")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
