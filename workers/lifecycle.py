"""Process lifetimes: make a child die with its parent, so nothing outlives ``passages run``.

Linux's ``prctl(PR_SET_PDEATHSIG)`` asks the kernel to send a signal to a process when its
parent dies — even when the parent is killed with SIGKILL and has no chance to clean up. Called
in a child right after ``fork`` (``preexec_fn`` of ``subprocess``, ``os.register_at_fork``).
Elsewhere than Linux it does nothing and says so in the log; the supervisor's own shutdown and
its pid file are then the only guard. This module must never start or stop processes itself.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def _load_libc() -> ctypes.CDLL | None:
    """The C library, loaded once at import: never look it up after a fork (that would run
    ``ldconfig`` in a child of a threaded process)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)  # this process's own symbols include libc's
    except OSError:
        return None


_LIBC = _load_libc()


def die_with_parent(signum: int = signal.SIGTERM, expected_parent: int | None = None) -> bool:
    """Have the kernel send ``signum`` to this process when its parent dies; True if armed.

    ``expected_parent``: if the parent already died before the call (a race right after
    ``fork``), the process is re-parented and no signal would ever come, so it exits at once.
    Safe to call between ``fork`` and ``exec`` (no allocation beyond ctypes' call).
    """
    if _LIBC is None:
        return False
    if _LIBC.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        return False
    if expected_parent is not None and os.getppid() != expected_parent:
        os.kill(os.getpid(), signum)
    return True


def pdeathsig_preexec(signum: int = signal.SIGTERM):
    """A ``preexec_fn`` for ``subprocess.Popen`` arming :func:`die_with_parent` in the child."""
    parent = os.getpid()

    def arm() -> None:
        die_with_parent(signum, expected_parent=parent)

    return arm
