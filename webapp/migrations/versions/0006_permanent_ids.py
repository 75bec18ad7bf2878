"""permanent ids on SQLite: stories and media never reuse an erased row's id

Revision ID: 0006_permanent_ids
Revises: 0005_collection_cover
Create Date: 2026-11-25

Without AUTOINCREMENT, SQLite gives a new row the largest id + 1, so erasing the newest story
would let the next one take its id — and its public URL, citations and derivative keys. PostgreSQL
sequences never reuse values, so this only rebuilds the two tables on SQLite.
"""

from alembic import op

revision = "0006_permanent_ids"
down_revision = "0005_collection_cover"
branch_labels = None
depends_on = None

TABLES = ("stories", "media_assets")


def _rebuild(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    # Rebuilding drops and renames tables that others reference; SQLite would check (and
    # cascade) foreign keys on the drop, so they are off for the copy and checked afterwards.
    op.execute("PRAGMA foreign_keys=OFF")
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
    problems = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    op.execute("PRAGMA foreign_keys=ON")
    if problems:
        raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")


def upgrade():
    _rebuild(True)


def downgrade():
    _rebuild(False)
