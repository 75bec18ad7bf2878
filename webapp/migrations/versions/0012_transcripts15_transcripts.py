"""transcripts, index points and recorded persons' consent for audio and video recordings

Revision ID: transcripts15_transcripts
Revises: docs14_documents
Create Date: 2026-12-02

Four new tables, nothing existing changes: ``transcripts`` (one per recording and language),
``transcript_cues`` (its timed lines), ``index_points`` (time, title, keywords, summary) and
``recording_consents`` (the recorded person's consent, a guardian's for a minor).
"""

import sqlalchemy as sa
from alembic import op

revision = "transcripts15_transcripts"
down_revision = "docs14_documents"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "transcripts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["media_id"], ["media_assets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("media_id", "language", name="uq_transcripts_media_lang"),
    )
    op.create_index("ix_transcripts_media_id", "transcripts", ["media_id"])
    op.create_table(
        "transcript_cues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transcript_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.Integer(), nullable=False),
        sa.Column("end_ms", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("settings", sa.String(length=200), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["transcript_id"], ["transcripts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_transcript_cues_transcript_id", "transcript_cues", ["transcript_id"])
    op.create_table(
        "index_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["media_id"], ["media_assets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_index_points_media_id", "index_points", ["media_id"])
    op.create_table(
        "recording_consents",
        sa.Column("media_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("consent_given", sa.Boolean(), nullable=False),
        sa.Column("minor", sa.Boolean(), nullable=False),
        sa.Column("guardian_consent_by", sa.String(length=200), nullable=True),
        sa.Column("guardian_consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["media_id"], ["media_assets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("media_id"),
    )


def downgrade():
    op.drop_table("recording_consents")
    op.drop_index("ix_index_points_media_id", table_name="index_points")
    op.drop_table("index_points")
    op.drop_index("ix_transcript_cues_transcript_id", table_name="transcript_cues")
    op.drop_table("transcript_cues")
    op.drop_index("ix_transcripts_media_id", table_name="transcripts")
    op.drop_table("transcripts")
