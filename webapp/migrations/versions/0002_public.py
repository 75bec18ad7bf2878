"""public memory: places gazetteer

Revision ID: 0002_public
Revises: 0001
Create Date: 2026-11-25

Creates the ``places`` table and loads the communes of Val-de-Marne and Seine-Saint-Denis from
``webapp/data/communes.csv`` (read here directly, so later changes to ``webapp.places`` cannot
change what this migration does).
"""
import csv
import re
import unicodedata
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0002_public"
down_revision = "0001"
branch_labels = None
depends_on = None

_CSV = Path(__file__).resolve().parents[2] / "data" / "communes.csv"


def _fold(text):
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", text)


def _key(name):
    folded = re.sub(r"[\s'’`´\-_.,/]+", " ", _fold(name)).strip()
    return re.sub(r"\b(st|ste)\b", lambda m: "saint" if m.group(1) == "st" else "sainte", folded)


def _slug(name):
    return re.sub(r"[^\w]+", "-", _fold(name)).strip("-")


def upgrade():
    places = op.create_table(
        "places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=True),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
        sa.UniqueConstraint("key", name=op.f("uq_places_key")),
        sa.UniqueConstraint("slug", name=op.f("uq_places_slug")),
        sa.UniqueConstraint("insee_code", name=op.f("uq_places_insee_code")),
    )
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_places_department"), ["department"], unique=False)

    from datetime import UTC, datetime

    now = datetime.now(UTC)
    with _CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    op.bulk_insert(
        places,
        [
            {
                "name": row["name"],
                "key": _key(row["name"]),
                "slug": _slug(row["name"]),
                "insee_code": row["insee"],
                "department": row["department"],
                "latitude": float(row["latitude"]),
                "longitude": float(row["longitude"]),
                "kind": "commune",
                "created_at": now,
            }
            for row in rows
        ],
    )


def downgrade():
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_places_department"))
    op.drop_table("places")
