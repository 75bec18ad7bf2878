"""search: story_places, the place keys each story names (place pages read it, not every story)

Revision ID: 0007_search_story_places
Revises: 0007_uow_event_story_id
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_search_story_places"
down_revision = "0007_uow_event_story_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story_places",
        sa.Column(
            "story_id",
            sa.Integer(),
            sa.ForeignKey("stories.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("place_key", sa.String(200), primary_key=True),
    )
    op.create_index("ix_story_places_place_key", "story_places", ["place_key"])
    # Fill it from the stories already there, with the same key function the app uses.
    from webapp.places import place_key

    bind = op.get_bind()
    stories = sa.table("stories", sa.column("id", sa.Integer), sa.column("places", sa.JSON))
    links = sa.table(
        "story_places", sa.column("story_id", sa.Integer), sa.column("place_key", sa.String)
    )
    rows = []
    for story_id, names in bind.execute(sa.select(stories.c.id, stories.c.places)):
        keys = {place_key(n) for n in names or [] if isinstance(n, str)} - {""}
        rows.extend({"story_id": story_id, "place_key": key} for key in sorted(keys))
        if len(rows) >= 5000:
            bind.execute(links.insert(), rows)
            rows = []
    if rows:
        bind.execute(links.insert(), rows)


def downgrade() -> None:
    op.drop_index("ix_story_places_place_key", table_name="story_places")
    op.drop_table("story_places")
