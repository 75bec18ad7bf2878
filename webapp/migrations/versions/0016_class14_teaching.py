"""teaching: dossiers of archive documents, class projects and each student's work

Revision ID: class14_teaching
Revises: media15_recordings
Create Date: 2026-12-02

New tables only. A project's progress is not stored: it is read from each response's status.
"""

import sqlalchemy as sa
from alembic import op

revision = "class14_teaching"
down_revision = "media15_recordings"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dossiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("introduction", sa.Text(), nullable=False),
        sa.Column("teacher_context", sa.Text(), nullable=False),
        sa.Column("guidance", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=120), nullable=False),
        sa.Column("questions", sa.Text(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "dossier_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"]),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dossier_id", "story_id"),
    )
    op.create_index("ix_dossier_documents_dossier_id", "dossier_documents", ["dossier_id"])
    op.create_index("ix_dossier_documents_story_id", "dossier_documents", ["story_id"])
    op.create_table(
        "class_projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("free_choice", sa.Boolean(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["class_id"], ["school_classes.id"]),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"]),
        sa.ForeignKeyConstraint(["teacher_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["collection_id"], ["collections.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_class_projects_class_id", "class_projects", ["class_id"])
    op.create_index("ix_class_projects_dossier_id", "class_projects", ["dossier_id"])
    op.create_index("ix_class_projects_teacher_id", "class_projects", ["teacher_id"])
    op.create_table(
        "project_works",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("group_name", sa.String(length=60), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("story_id", sa.Integer(), nullable=True),
        sa.Column("analysis", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["class_projects.id"]),
        sa.ForeignKeyConstraint(["student_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["document_id"], ["stories.id"]),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "student_id"),
        sa.UniqueConstraint("story_id"),
    )
    op.create_index("ix_project_works_project_id", "project_works", ["project_id"])
    op.create_index("ix_project_works_student_id", "project_works", ["student_id"])
    op.create_index("ix_project_works_document_id", "project_works", ["document_id"])


def downgrade():
    op.drop_table("project_works")
    op.drop_table("class_projects")
    op.drop_table("dossier_documents")
    op.drop_table("dossiers")
