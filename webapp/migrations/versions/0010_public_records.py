"""interop: public records (datestamps and tombstones for harvesters, sitemaps and feeds)

Revision ID: 0010_public_records
Revises: 0009_interop_transfers
Create Date: 2026-12-02

One row per story that was ever published, kept by ``webapp.services.publication``. Existing
published stories get a record dated by their last change; withdrawn stories that had been
published get a deleted one (their pages answer 410 Gone). Stories erased before this migration
left nothing to date them by and get no record.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_public_records"
down_revision = "0009_interop_transfers"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "public_records",
        sa.Column("story_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("story_id"),
    )
    op.create_index("ix_public_records_changed", "public_records", ["changed_at", "story_id"])
    op.create_table(
        "public_record_sets",
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("set_spec", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["story_id"], ["public_records.story_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("story_id", "set_spec"),
    )
    op.create_index(
        op.f("ix_public_record_sets_set_spec"), "public_record_sets", ["set_spec"], unique=False
    )
    # Fingerprints stay empty: the first change after the upgrade computes them (and moves the
    # datestamp once, which only makes harvesters fetch the record again).
    op.execute(
        """
        INSERT INTO public_records (story_id, changed_at, deleted, fingerprint)
        SELECT id, COALESCE(updated_at, published_at, created_at),
               CASE WHEN status = 'published' THEN FALSE ELSE TRUE END, NULL
        FROM stories
        WHERE status = 'published' OR (status = 'withdrawn' AND published_at IS NOT NULL)
        """
    )
    op.execute(
        """
        INSERT INTO public_record_sets (story_id, set_spec)
        SELECT s.id, 'organisation:' || CAST(s.organisation_id AS VARCHAR(20))
        FROM stories s JOIN public_records r ON r.story_id = s.id
        WHERE s.organisation_id IS NOT NULL
        """
    )
    op.execute(
        """
        INSERT INTO public_record_sets (story_id, set_spec)
        SELECT DISTINCT i.story_id, 'collection:' || CAST(i.collection_id AS VARCHAR(20))
        FROM collection_items i
        JOIN collections c ON c.id = i.collection_id
        JOIN public_records r ON r.story_id = i.story_id
        WHERE c.published = TRUE
        """
    )


def downgrade():
    op.drop_index(op.f("ix_public_record_sets_set_spec"), table_name="public_record_sets")
    op.drop_table("public_record_sets")
    op.drop_index("ix_public_records_changed", table_name="public_records")
    op.drop_table("public_records")
