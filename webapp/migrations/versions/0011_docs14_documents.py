"""documents: archive documents (kind and provenance) and the stories that respond to them

Revision ID: docs14_documents
Revises: 0010_public_records
Create Date: 2026-12-02

``stories.kind`` is ``story`` (every existing row) or ``document``; a document carries its
provenance in ``stories.source_*``. ``story_responses`` links a story to the documents it
responds to (``webapp.services.documents``).
"""

import sqlalchemy as sa
from alembic import op

revision = "docs14_documents"
down_revision = "0010_public_records"
branch_labels = None
depends_on = None

_SOURCE_COLUMNS = (
    ("source_institution", 300),
    ("source_reference", 200),
    ("source_fonds", 300),
    ("source_producer", 300),
)


def upgrade():
    # Plain ALTER TABLE ADD COLUMN, not batch mode: a batch rebuild of ``stories`` on SQLite would
    # drop its AUTOINCREMENT (permanent ids, migration 0006).
    op.add_column(
        "stories",
        sa.Column("kind", sa.String(length=32), nullable=False, server_default="story"),
    )
    op.create_index(op.f("ix_stories_kind"), "stories", ["kind"], unique=False)
    for name, length in _SOURCE_COLUMNS:
        op.add_column("stories", sa.Column(name, sa.String(length=length), nullable=True))
    op.create_table(
        "story_responses",
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["stories.id"],
            name=op.f("fk_story_responses_story_id_stories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["stories.id"],
            name=op.f("fk_story_responses_document_id_stories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("story_id", "document_id", name=op.f("pk_story_responses")),
    )
    op.create_index(
        op.f("ix_story_responses_document_id"), "story_responses", ["document_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_story_responses_document_id"), table_name="story_responses")
    op.drop_table("story_responses")
    op.drop_index(op.f("ix_stories_kind"), table_name="stories")
    columns = ["kind", *(name for name, _ in _SOURCE_COLUMNS)]
    if op.get_bind().dialect.name != "sqlite":
        for name in columns:
            op.drop_column("stories", name)
        return
    # SQLite cannot always drop a column in place; rebuild, keeping AUTOINCREMENT (0006).
    op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table(
        "stories", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        for name in columns:
            batch_op.drop_column(name)
    op.execute("PRAGMA foreign_keys=ON")
