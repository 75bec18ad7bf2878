"""``passages derive FILE... --out DIR``: run the worker's derivative code on local files.

For archivists checking what a scan will look like and for benchmarking: it calls exactly
:func:`webapp.media.imaging.build_derivatives` with the default specs, so what it writes is what the
worker stores. It must never print a traceback, stop at the first bad file, or leave a half-written
set of derivatives for a rejected file; it touches no database, storage backend or queue.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import click

from webapp.media.imaging import DEFAULT_MAX_PIXELS, ImageRejected, build_derivatives

log = logging.getLogger(__name__)


@click.command("derive")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder that receives <input file name>/<derivative name>.<ext>.",
)
@click.option(
    "--max-pixels",
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    type=click.IntRange(min=1),
    help="Refuse images declaring more pixels than this.",
)
def derive_command(files: tuple[Path, ...], out_dir: Path, max_pixels: int) -> None:
    """Write the derivatives of each FILE, one line per file: "ok NAME" or "rejected NAME: why".

    Exits 0 when every file was accepted and 1 otherwise.
    """
    rejected = 0
    for path in files:
        reason = _derive_one(path, out_dir, max_pixels)
        if reason is None:
            click.echo(f"ok {path.name}")
        else:
            rejected += 1
            click.echo(f"rejected {path.name}: {reason}")
    click.get_current_context().exit(1 if rejected else 0)


def _derive_one(path: Path, out_dir: Path, max_pixels: int) -> str | None:
    """Derive one file; return None on success or the reason it was refused.

    Why a temporary folder renamed into place: a file rejected half-way (or a full disk) never
    leaves a partial set behind, and re-running replaces the previous set as a whole.
    """
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        return "it is a folder, not a file"
    except FileNotFoundError:
        return "file not found"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return f"could not read the file ({exc.strerror or exc})"
    try:
        derivatives = build_derivatives(data, max_pixels=max_pixels)
    except ImageRejected as exc:
        return exc.reason
    except Exception as exc:  # a bug must not hide the other files' results behind a traceback
        log.exception("unexpected failure deriving %s", path)
        return f"internal error ({type(exc).__name__}); the other files were still processed"
    target = out_dir / path.name
    staging: Path | None = None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=out_dir))
        for derivative in derivatives:
            (staging / f"{derivative.name}.{derivative.ext}").write_bytes(derivative.data)
        if target.is_dir():
            _remove_tree(target)
        os.replace(staging, target)
    except OSError as exc:
        log.warning("could not write derivatives of %s", path, exc_info=True)
        if staging is not None and staging.exists():
            _remove_tree(staging)
        return f"could not write to {out_dir} ({exc.strerror or exc})"
    return None


def _remove_tree(folder: Path) -> None:
    """Remove an output or staging folder made by this command (files only, one level)."""
    for child in folder.iterdir():
        child.unlink(missing_ok=True)
    folder.rmdir()
