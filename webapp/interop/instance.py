"""This installation's stable identity, written into every export and read back on import.

A story's exported identifier is its public URL, and the address a site answers at changes
(http to https, a new domain, a port, a command run without ``PUBLIC_URL``). Recognising the
site's own export by its address therefore failed as soon as the address moved, and a re-import
duplicated every story and brought withdrawn ones back into public view. A random id generated
once and kept in the data folder, beside ``secret_key``, does not move with the address.
"""

from __future__ import annotations

import os
import re
import secrets

from webapp.services import backends

#: The ``bag-info.txt`` field that carries the identity (RFC 8493 allows other fields).
BAG_INFO_FIELD = "Passages-Instance"
_FILE_NAME = "instance_id"
_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def instance_id() -> str:
    """This installation's identity: generated on first use, then read from the data folder
    (the web server, the workers and the commands share it). Needs an app context."""
    data_dir = backends.settings().data_dir
    path = data_dir / _FILE_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f"{_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
        draft.write_text(secrets.token_urlsafe(24))
        try:
            os.link(draft, path)  # atomic, complete when visible, and never overwrites
        except FileExistsError:
            pass  # another process made it first: read theirs
        finally:
            draft.unlink()
    return path.read_text().strip()


def from_bag_info(text: str) -> str | None:
    """The identity a ``bag-info.txt`` names, or ``None`` (an older export, another tool's bag,
    or a value that is not an identity this code writes)."""
    for line in text.splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip() == BAG_INFO_FIELD:
            value = value.strip()
            return value if _SHAPE.fullmatch(value) else None
    return None
