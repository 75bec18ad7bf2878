"""Ordered lists that people rearrange one step at a time (collections, dossiers).

Why here: moving an item up or down must renumber the same way wherever a list is kept, so a
collection and a dossier never disagree on what "up" means or leave gaps in their positions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar


class Positioned(Protocol):
    id: int
    position: int


P = TypeVar("P", bound=Positioned)


def renumber(items: Iterable[Positioned]) -> None:
    """Positions 0, 1, 2… in the current order (ties kept by id), so no gap is left behind."""
    for position, item in enumerate(sorted(items, key=lambda i: (i.position, i.id))):
        item.position = position


def remove(items: list[P], item_id: int) -> P | None:
    """Take the item ``item_id`` out of ``items`` and renumber the rest; None when absent."""
    item = next((i for i in items if i.id == item_id), None)
    if item is not None:
        items.remove(item)
        renumber(items)
    return item


def move(items: Iterable[Positioned], item_id: int, offset: int) -> bool:
    """Move the item ``item_id`` by ``offset`` places (clamped to the ends) and renumber all
    positions from 0; False, and nothing changed, when no item has that id."""
    ordered = sorted(items, key=lambda i: (i.position, i.id))
    index = next((n for n, i in enumerate(ordered) if i.id == item_id), None)
    if index is None:
        return False
    target = max(0, min(len(ordered) - 1, index + offset))
    ordered.insert(target, ordered.pop(index))
    for position, item in enumerate(ordered):
        item.position = position
    return True
