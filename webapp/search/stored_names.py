"""Stable names for the Passages classes that Whoosh pickles into an index's table of contents.

Whoosh writes each generation's schema (field types and their formats) and each segment's codec
into the table of contents (``_MAIN_<n>.toc``) with :mod:`pickle`, which normally records every
object's class by its module path: renaming or moving one of our classes would make every existing
index unopenable. So each Passages class that reaches the table of contents inherits
:class:`StoredByName` and pickles as a call to :func:`restore` with a *stored name* from
:data:`STORED_NAMES` and its attribute dictionary. The table of contents then names only this
module and this function, plus Whoosh's own classes.

Rules: this module's path, :func:`restore` and the stored names are part of the on-disk format
and must never change; a class may be renamed or moved by updating its entry here. A name this
module does not know (an index written by a newer version) makes the index fail to open, which
the search worker answers with an automatic rebuild. It must never import the rest of the search
package at import time (the classes are found when an index is opened).
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

#: Stored name → ``module:ClassName`` of the class it restores today.
STORED_NAMES: dict[str, str] = {
    "passages.token-field": "webapp.search.schema:TokenField",
    "passages.terms-field": "webapp.search.schema:TermsField",
    "passages.compact-positions": "webapp.search.schema:CompactPositions",
    "passages.lean-codec": "webapp.search.segments:LeanCodec",
}


class UnknownStoredName(LookupError):
    """The table of contents names a class this version does not know: rebuild the index."""


def restore(name: str, state: dict[str, Any]) -> Any:
    """Rebuild a pickled Passages object from its stored name and attributes."""
    target = STORED_NAMES.get(name)
    if target is None:
        raise UnknownStoredName(f"unknown stored class name {name!r} in the index")
    module, _, qualname = target.partition(":")
    cls = getattr(importlib.import_module(module), qualname)
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


class StoredByName:
    """Mixin: instances pickle as ``restore(stored_name, attributes)``, never by class path."""

    stored_name: ClassVar[str]

    def __reduce__(self) -> tuple[Any, ...]:
        return (restore, (self.stored_name, dict(self.__dict__)))
