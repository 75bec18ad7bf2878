"""How long a browser or a shared cache may keep a public answer: one policy for all of them.

Issue 17: nothing may serve a withdrawn story from a cache for more than a few seconds. Every
public answer that shows or lists stories — story pages, home, lists, collections, places,
organisations, search, feeds and sitemaps, IIIF manifests and images, the public API, images,
recordings and their tracks, exhibition PDFs — says ``public, max-age=5, must-revalidate``:
a reverse proxy in front of the app (a département's, a school's) may answer from its copy for
five seconds, then must ask again. Asking again is cheap, since every such answer carries an
ETag (and often a Last-Modified): an unchanged page costs a 304 and no body. ``no-cache`` would
send every request to the app; five seconds lets a proxy absorb a crowd arriving at once (the
page cache in ``webapp.page_cache`` absorbs the rest) while a withdrawal still reaches every
reader within seconds. Private answers keep ``private, no-store``; outages ``no-store``.
"""

from __future__ import annotations

from flask import Response

#: Seconds anyone may keep a public answer without asking again.
SHARED_MAX_AGE = 5
#: The ``Cache-Control`` of every public answer that shows a story (or a part of one).
PUBLIC_CACHE_CONTROL = f"public, max-age={SHARED_MAX_AGE}, must-revalidate"


def keep_briefly(response: Response) -> Response:
    """Mark ``response`` public for ``SHARED_MAX_AGE`` seconds, then to be revalidated."""
    response.headers["Cache-Control"] = PUBLIC_CACHE_CONTROL
    return response
