"""Pool workers that die with their parent.

A worker of :class:`alnn.pipeline.LocalExecutor` computes shards that only its
parent (the main process) collects and stores. If the main process is killed
alone (``kill -9``, a crashed shell, a scheduler), an idle worker notices (its
task pipe closes) but a busy one would compute on for nothing.
:func:`exit_with_parent`, called in the worker initializer, makes it exit
instead:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker
  the moment its parent dies; the parent pid is checked right after arming,
  since a parent that died before would never send the signal;
* everywhere, a daemon thread that compares ``os.getppid()`` with the original
  parent every ``interval`` seconds and calls ``os._exit`` when it changes
  (the worker has been re-parented to init or a subreaper).

The parent-death signal is sent when the *thread* that started the worker
ends, so :class:`~alnn.pipeline.LocalExecutor` arms it only for pools started
from the main thread (which lives as long as its process); the watchdog thread
covers the rest.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
#: Exit status of a worker that outlived its parent.
ORPHAN_EXIT = 75


def arm_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):  # no libc symbol: the watchdog thread remains
        return False


def _watch(parent: int, interval: float) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(ORPHAN_EXIT)
        time.sleep(interval)


def exit_with_parent(parent: int, *, interval: float = 0.5, signal_on_death: bool = True) -> None:
    """Make this process exit soon after process ``parent`` (its parent now) dies.

    Exits at once if the parent is already gone (``os.getppid()`` is no longer
    ``parent``).
    """
    if signal_on_death:
        arm_parent_death_signal()
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(ORPHAN_EXIT)
    threading.Thread(target=_watch, args=(parent, interval), name="alnn-parent-watchdog", daemon=True).start()
