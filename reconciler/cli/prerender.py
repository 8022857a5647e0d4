"""The plan's text, rendered in a forked process while this one writes the plan.

A first apply of 100,000 tasks prints 29 MB of plan (every field of every row created) and
spends about 4 s on it, then waits on the database's write for as long: one core idle each
time. The plan is final before the write (``ApplyOptions.on_write``): a forked child, which
shares this process's memory, renders it meanwhile and hands the text over a pipe. The child
never touches the database or the standard streams, and leaves with ``os._exit`` (no exit
handlers, no buffers flushed twice). Small plans, a process with other threads (a fork would
inherit their locks) and platforms without ``fork`` render in-process, afterwards.
"""
from __future__ import annotations

import os
import signal
import threading

from ..core.plan import Plan
from ..render.plan import render_text

MIN_CHANGES = 2_000  # below, a fork costs more than the rendering it moves


class TextInAdvance:
    """``start`` as the apply's ``on_write``; then ``text`` of the plan the apply returned."""

    def __init__(self) -> None:
        self._plan: Plan | None = None
        self._pid = 0
        self._pipe = -1

    def start(self, plan: Plan) -> None:
        if len(plan.changes) < MIN_CHANGES or threading.active_count() > 1 or not hasattr(os, "fork"):
            return
        try:
            read, write = os.pipe()
        except OSError:  # out of descriptors: rendered here, afterwards
            return
        try:
            pid = os.fork()
        except OSError:  # out of processes or memory: the apply goes on, the text comes afterwards
            os.close(read)
            os.close(write)
            return
        if pid == 0:
            _render_into(plan, read, write)  # never returns
        os.close(write)
        self._plan, self._pid, self._pipe = plan, pid, read

    def text(self, plan: Plan) -> str:
        """The plan's text: the child's, when it rendered this very plan, else rendered here."""
        if self._plan is not plan:
            self.discard()
            return render_text(plan)
        with os.fdopen(self._pipe, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        self._plan, self._pid, self._pipe = None, 0, -1
        return data.decode("utf-8", "surrogatepass") if os.waitstatus_to_exitcode(status) == 0 else render_text(plan)

    def discard(self) -> None:
        """Stop a child whose text is not wanted (the apply failed or returned another plan)."""
        if not self._pid:
            return
        os.kill(self._pid, signal.SIGKILL)
        os.close(self._pipe)
        os.waitpid(self._pid, 0)
        self._plan, self._pid, self._pipe = None, 0, -1


def _render_into(plan: Plan, read: int, write: int) -> None:
    code = 1
    try:
        os.close(read)
        data = render_text(plan).encode("utf-8", "surrogatepass")  # a file name need not be UTF-8
        with os.fdopen(write, "wb") as pipe:
            pipe.write(data)
        code = 0
    finally:
        os._exit(code)
