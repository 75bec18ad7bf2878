"""outbox events know their story; notifications remember they were e-mailed

Revision ID: 0007_uow_event_story_id
Revises: 0006_permanent_ids
Create Date: 2026-12-02

``outbox_events.story_id`` (indexed, no foreign key: a ``story.erased`` event outlives its story)
lets erasure find a story's events with the index instead of reading every event; existing rows
are filled from their payload's ``story_id``. ``notifications.emailed_at`` lets the e-mail job
(fed by the outbox, retried by RQ) send each notification at most once.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_uow_event_story_id"
down_revision = "0006_permanent_ids"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_events") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch.create_index("ix_outbox_events_story_id", ["story_id"])
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "UPDATE outbox_events SET story_id = CAST(json_extract(payload, '$.story_id') AS INTEGER)"
            " WHERE json_type(payload, '$.story_id') = 'integer'"
        )
    else:
        op.execute(
            "UPDATE outbox_events SET story_id = (payload::jsonb ->> 'story_id')::integer"
            " WHERE jsonb_typeof(payload::jsonb -> 'story_id') = 'number'"
        )


def downgrade():
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("emailed_at")
    with op.batch_alter_table("outbox_events") as batch:
        batch.drop_index("ix_outbox_events_story_id")
        batch.drop_column("story_id")
