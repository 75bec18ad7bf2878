"""One page of a listing, for the templates that show numbered pages.

The public lists (collections, a collection's stories, an organisation's or a place's stories)
are queries built by the services that own their rule (``visibility``, ``collections``,
``places``); the view hands one here with the page the visitor asked for, so no view runs a
query itself. A page past the end is an empty page, never a 404. This module must never widen
or change a query it is given.
"""

from __future__ import annotations

from typing import Any

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select

from webapp.extensions import db


def page_of(query: Select[Any], page: int, per_page: int) -> Pagination:
    """Page ``page`` (from 1) of ``query``'s rows, with the total for the page links."""
    return db.paginate(query, page=page, per_page=per_page, error_out=False)
