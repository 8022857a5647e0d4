"""The history record's plan and the plan's text, made in a forked process while this one writes
the plan.

A first apply of 100,000 tasks prints 29 MB of plan (every field of every row created) and
spends about 4 s on it, and packs the plan for its history record (``history.stored_plan``,
0.7 s), then waits on the database's write for longer: one core idle each time. The plan is final
before the write (``ApplyOptions.on_write``): a forked child, which shares this process's
memory, makes both meanwhile, then hands them over a pipe: the record's plan first (the apply
needs it as soon as the rows are written: a length, then its JSON), then the text (to the end).
The record's plan is sent by a thread of the child while it renders the text: the apply reads
nothing until its rows are written, and a child blocked on a full pipe (64 KB) would wait for
that instead of rendering; and the record then waits for the record's plan alone, not for the
text too (at 100,000 creates it waited 0.9 s). The child never touches the database or the
standard streams, and leaves with ``os._exit`` (no exit handlers, no buffers flushed twice).
Small plans, a process with other threads (a fork would inherit their locks) and platforms
without ``fork`` make both in-process; so does a child that failed.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import struct
import threading
from typing import IO, Any

from ..core.plan import Plan
from ..declare.parallel import fork_safe
from ..engine.apply import StoredPlan
from ..engine.history import stored_plan
from ..render.plan import render_text

MIN_CHANGES = 2_000  # below, a fork costs more than the work it moves
_LENGTH = struct.Struct(">Q")


class InAdvance:
    """``start`` as the apply's ``on_write``; then ``text`` of the plan the apply returned
    (with ``text=False`` the child makes the record's plan only: ``--format json``)."""

    def __init__(self, text: bool = True) -> None:
        self._with_text = text
        self._plan: Plan | None = None
        self._pid = 0
        self._pipe: IO[bytes] | None = None
        self._stored_read = False

    def start(self, plan: Plan) -> StoredPlan | None:
        if len(plan.changes) < MIN_CHANGES or not fork_safe():
            return None
        try:
            read, write = os.pipe()
        except OSError:  # out of descriptors: made here, afterwards
            return None
        try:
            pid = os.fork()
        except OSError:  # out of processes or memory: the apply goes on, both made afterwards
            os.close(read)
            os.close(write)
            return None
        if pid == 0:
            _make_into(plan, read, write, self._with_text)  # never returns
        os.close(write)
        self._plan, self._pid, self._pipe, self._stored_read = plan, pid, os.fdopen(read, "rb"), False
        return self.stored

    def stored(self) -> dict[str, Any] | None:
        """The record's plan the child made (None: it failed, the caller makes it)."""
        if self._pipe is None or self._stored_read:
            return None
        self._stored_read = True
        head = self._pipe.read(_LENGTH.size)
        size = _LENGTH.unpack(head)[0] if len(head) == _LENGTH.size else -1
        data = self._pipe.read(size) if size > 0 else b""
        if size < 0 or len(data) < size:  # the child is gone
            self.discard()
            return None
        if not self._with_text:  # the child leaves once its one part is read
            self._pipe.close()
            os.waitpid(self._pid, 0)
            self._plan, self._pid, self._pipe = None, 0, None
        try:
            found = json.loads(data.decode("utf-8", "surrogatepass")) if data else None
        except ValueError:
            found = None
        return found if isinstance(found, dict) else None

    def text(self, plan: Plan) -> str:
        """The plan's text: the child's, when it rendered this very plan, else rendered here."""
        if self._plan is not plan or not self._with_text or self._pipe is None:
            self.discard()
            return render_text(plan)
        if not self._stored_read:
            self.stored()
        pipe, pid = self._pipe, self._pid
        if pipe is None:  # the record's plan was not there: the child is gone
            return render_text(plan)
        with pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        self._plan, self._pid, self._pipe = None, 0, None
        return data.decode("utf-8", "surrogatepass") if os.waitstatus_to_exitcode(status) == 0 else render_text(plan)

    def discard(self) -> None:
        """Stop a child whose work is not wanted (the apply failed or returned another plan)."""
        if not self._pid:
            return
        os.kill(self._pid, signal.SIGKILL)
        if self._pipe is not None:
            self._pipe.close()
        os.waitpid(self._pid, 0)
        self._plan, self._pid, self._pipe = None, 0, None


def _make_into(plan: Plan, read: int, write: int, with_text: bool) -> None:
    code = 1
    try:
        os.close(read)
        stored = _stored_part(plan)
        with os.fdopen(write, "wb") as pipe:
            sender = threading.Thread(target=_send, args=(pipe, stored))
            sender.start()
            text = render_text(plan).encode("utf-8", "surrogatepass") if with_text else b""  # a name need not be UTF-8
            sender.join()
            pipe.write(text)
        code = 0
    finally:
        os._exit(code)


def _send(pipe: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError):  # the apply is gone: the text's write fails too, and the child leaves
        pipe.write(data)
        pipe.flush()


def _stored_part(plan: Plan) -> bytes:
    """Its length, then the record's plan as JSON; a length of 0 when it cannot be made here
    (the apply makes it, and meets the error itself): the text still comes."""
    try:
        stored = json.dumps(stored_plan(plan), ensure_ascii=False).encode("utf-8", "surrogatepass")
    except Exception:
        stored = b""
    return _LENGTH.pack(len(stored)) + stored
