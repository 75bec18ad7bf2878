"""Stems computed by one web process, kept beside the index for the next one.

The Snowball stemmers are pure Python (about 25 µs a word). A fresh process's first results page
stems the few thousand distinct words of its snippets, a large share of its first answer at
100,000 stories; the process before it had stemmed most of them already. Stems depend only on
the word and the stemmer, so the warm-up writes what its process knows into the served
generation's folder and the next warm-up reads it back (about 25 ms for 50,000 words).

The words come from stories, so the file follows the index's erasure rules: an erasure
(``SearchIndex.purge``) deletes it after its commit, and a file written while the index changed
is deleted by its writer (it may hold words read before the change). A file another stemmer
wrote (another Whoosh version), a damaged or foreign file is ignored; it is derived data.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from webapp.search.analysis import (
    STEMMED_LANGUAGES,
    remember_stems,
    stemmer_fingerprint,
    stems_known,
)
from webapp.search.derived_files import replace_file

log = logging.getLogger(__name__)

FILE_NAME = "stems.v1.json"
_TEMP_PREFIX = ".stems-"
#: Most stems kept per language (the shortest words, the most frequent in any language), so the
#: file stays a few megabytes at most and loads in milliseconds.
MAX_KEPT = 100_000


def load(folder: Path) -> dict[str, list[str]]:
    """Take the stems kept in ``folder``; returns the tokens taken, per language (none when
    there is no usable file)."""
    path = folder / FILE_NAME
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, RecursionError):  # damaged, foreign, or nested to crash us
        log.warning("kept stems ignored", extra={"path": str(path)}, exc_info=True)
        return {}
    if not isinstance(kept, dict) or kept.get("stemmers") != stemmer_fingerprint():
        return {}
    per_language = kept.get("stems")
    if not isinstance(per_language, dict):
        return {}
    taken: dict[str, list[str]] = {}
    for language, pair in per_language.items():
        if language not in STEMMED_LANGUAGES or not isinstance(pair, list) or len(pair) != 2:
            continue
        tokens, stems = pair
        if not isinstance(tokens, str) or not isinstance(stems, str):
            continue
        token_list, stem_list = tokens.split("\t"), stems.split("\t")
        if len(token_list) != len(stem_list):
            continue
        remember_stems(language, token_list, stem_list)
        taken[language] = token_list
    return taken


def save(folder: Path, words: dict[str, set[str]], unchanged: Callable[[], bool]) -> None:
    """Write the stems of ``words`` (per language: what the file held when read back, and the
    words of the stories read since) into ``folder`` atomically, unless the index changed since
    they were gathered (``unchanged`` is asked before and after the write). Never the rest of
    the process's stems: a staff search may have stemmed a story erased since. Never fatal."""
    if not unchanged():
        return
    stems = {}
    for language in STEMMED_LANGUAGES:
        tokens, stemmed = stems_known(language, words.get(language, set()))
        if len(tokens) > MAX_KEPT:  # the shortest words: the most frequent ones
            keep = sorted(sorted(range(len(tokens)), key=lambda i: len(tokens[i]))[:MAX_KEPT])
            tokens, stemmed = [tokens[i] for i in keep], [stemmed[i] for i in keep]
        # Tokens are runs of word characters: a tab never occurs in one.
        stems[language] = ["\t".join(tokens), "\t".join(stemmed)]
    text = json.dumps({"stemmers": stemmer_fingerprint(), "stems": stems}, ensure_ascii=False)
    path = folder / FILE_NAME
    try:
        replace_file(path, text.encode("utf-8"), _TEMP_PREFIX, folder)
    except OSError:
        log.info("stems not kept", extra={"path": str(path)}, exc_info=True)
        return
    if not unchanged():  # an erasure may have committed meanwhile: its words must not stay
        forget(folder)


def forget(folder: Path) -> None:
    """Delete the kept stems (after an erasure), and any a killed writer left half-written."""
    (folder / FILE_NAME).unlink(missing_ok=True)
    for leftover in folder.glob(f"{_TEMP_PREFIX}*"):
        leftover.unlink(missing_ok=True)
