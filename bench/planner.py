"""SQLite's planner statistics and the home page's cover query: before and after ``ANALYZE``.

On the archive ``bench/load.py`` builds (``bench/out/load-<N>/``, built here if missing), times
``collections.cover_image`` for every featured collection (what a home page miss pays) with the
planner's statistics in two states: none (an archive never analysed, as before this change; a
new install's first ``ANALYZE`` after its migrations finds the archive's tables empty and
records nothing for them either) and those of the archive as it is
(``backends.refresh_planner_statistics``, run after migrations and by the hourly maintenance
job). Prints the median time per collection and the query plan of each state.

Usage::

    .venv/bin/python bench/planner.py                 # 2,000 stories
    .venv/bin/python bench/planner.py --stories 200

This script prints its figures; it must never be imported by the application.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import OUT, base_env, build_archive  # noqa: E402

ROUNDS = 20


def _cover_times(env: dict[str, str]) -> tuple[float, str]:
    """Median milliseconds of one ``cover_image`` over the featured collections, and its plan."""
    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import Collection
    from webapp.services import collections

    app = create_app(env)
    with app.app_context():
        featured = db.session.scalars(
            db.select(Collection).where(Collection.published, Collection.featured)
        ).all()
        samples = []
        for _ in range(ROUNDS):
            for collection in featured:
                started = time.perf_counter()
                collections.cover_image(collection)
                samples.append((time.perf_counter() - started) * 1000)
        query = collections._cover_candidates_query(featured[0]).limit(1)
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = db.session.execute(db.text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        db.session.remove()
        db.engine.dispose()
    return statistics.median(samples), "; ".join(row[-1] for row in plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=2000)
    args = parser.parse_args()
    data_dir = OUT / f"load-{args.stories}"
    env = base_env(data_dir, f"sqlite:///{data_dir / 'passages.sqlite3'}")
    env["REDIS_URL"] = ""
    env["PAGE_CACHE_SECONDS"] = "0"
    if not (data_dir / "built").exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        print(f"building {args.stories} stories in {data_dir}")
        build_archive(env, args.stories)
        (data_dir / "built").write_text("ok\n")
    database = data_dir / "passages.sqlite3"

    def set_statistics(state: str) -> None:
        with sqlite3.connect(database) as connection:
            connection.execute("ANALYZE sqlite_schema")  # makes sure sqlite_stat1 exists
            connection.execute("DELETE FROM sqlite_stat1")
        if state == "this archive":
            from sqlalchemy import create_engine

            from webapp.services.backends import refresh_planner_statistics

            engine = create_engine(f"sqlite:///{database}")
            with engine.connect() as connection:
                started = time.perf_counter()
                refresh_planner_statistics(connection)
                connection.commit()
                spent = (time.perf_counter() - started) * 1000
                print(f"refresh_planner_statistics: {spent:.0f} ms")
            engine.dispose()

    print(f"{args.stories} stories; cover_image per featured collection, median of {ROUNDS} rounds")
    for state in ("none", "this archive"):
        set_statistics(state)
        median, plan = _cover_times(env)
        print(f"statistics: {state:<14} {median:7.2f} ms   plan: {plan}")


if __name__ == "__main__":
    main()
