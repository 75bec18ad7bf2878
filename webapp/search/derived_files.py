"""How the files derived from the index (decoded segments, kept stems, kept snapshots) are written:
whole or not at all, and as readable as the index's own files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_file(path: Path, data: bytes, temp_prefix: str, mode_like: Path) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed over it
    (a reader sees the old file or the new one, never half of one), with the permissions of
    ``mode_like``: ``mkstemp`` makes the file private to its writer, and the web server and the
    reindex command may run as different users. ``temp_prefix`` names the temporary file, so
    that the file's own clean-up also finds one a killed writer left. Raises ``OSError``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.chmod(tmp, mode_like.stat().st_mode & 0o666)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
