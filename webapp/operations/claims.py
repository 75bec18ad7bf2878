"""Claims on object keys: the lock that lets submissions and the collector share originals.

Originals are content-addressed, so two submissions of the same photo share one object, and an
object nothing refers to may belong to a submission that has written it and not yet committed.
Deleting "unreferenced" originals is therefore only safe if "about to be referenced" is visible
to the deleter. We make it visible with a row per key (``object_claims``) that both sides write
before acting, inside their own transaction:

* a submission upserts the claims of its originals *before* writing the objects, and holds them
  (row locks on PostgreSQL, the write lock on SQLite) until it commits or rolls back;
* the collector upserts the claim of a key, *then* re-checks that no row refers to the key and
  that the object is older than the grace period, deletes the object, and drops the claim.

The database orders the two: if the submission claimed first, the collector waits until the
submission's rows are committed and then sees them (and keeps the object); if the collector
claimed first, the submission waits until the object is gone and then writes it again. A failed
submission never deletes an original itself (its rollback compensation would race exactly like
this); the collector removes it once the grace period has passed, retrying every run until done.

Claims are taken in key order so two submissions sharing several photos cannot deadlock. This
module must never delete an object by itself: it only takes claims.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.dialects import postgresql, sqlite

from webapp.models import ObjectClaim, utcnow
from webapp.unit_of_work import UnitOfWork


def claim(uow: UnitOfWork, keys: Iterable[str], by: str) -> None:
    """Claim ``keys`` in ``uow``'s transaction; waits while another transaction holds one.

    The statements run at once (not at flush) so the lock is held from here on.
    """
    session = uow.session
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for key in sorted(set(keys)):
        now = utcnow()
        statement = insert(ObjectClaim).values(key=key, claimed_at=now, claimed_by=by[:32])
        statement = statement.on_conflict_do_update(
            index_elements=[ObjectClaim.key], set_={"claimed_at": now, "claimed_by": by[:32]}
        )
        session.execute(statement)


def release(uow: UnitOfWork, key: str) -> None:
    """Drop the claim row of ``key`` (after its object was deleted), in ``uow``'s transaction."""
    uow.session.execute(ObjectClaim.__table__.delete().where(ObjectClaim.key == key))
