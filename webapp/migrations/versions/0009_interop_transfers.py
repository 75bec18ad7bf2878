"""interop: export and import runs, and the import key of stories

Revision ID: 0009_interop_transfers
Revises: 0008_security_quarantine
Create Date: 2026-12-02

``export_runs`` and ``import_runs`` hold the state of the BagIt exports and bulk imports an
archivist starts (the jobs are functions of these ids). ``stories.import_key`` is the stable key of
the imported row a story came from; its unique index is what makes an import idempotent and
resumable. Existing stories have none.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_interop_transfers"
down_revision = "0008_security_quarantine"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch rebuild): a rebuild of ``stories`` would drop AUTOINCREMENT.
    op.add_column("stories", sa.Column("import_key", sa.String(length=255), nullable=True))
    op.create_index(op.f("ix_stories_import_key"), "stories", ["import_key"], unique=True)
    op.create_table(
        "export_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("collection_slug", sa.String(length=120), nullable=True),
        sa.Column("originals", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("byte_size", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False, server_default=""),
        sa.Column("images_name", sa.String(length=255), nullable=True),
        sa.Column("as_status", sa.String(length=16), nullable=False),
        sa.Column(
            "organisation_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=True
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("import_runs")
    op.drop_table("export_runs")
    op.drop_index(op.f("ix_stories_import_key"), table_name="stories")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("stories", "import_key")
        return
    op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table(
        "stories", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("import_key")
    op.execute("PRAGMA foreign_keys=ON")
