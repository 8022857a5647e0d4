"""Parse and validate many files on every core: the cold path of a large tree.

Each file is parsed and validated on its own (``document.validate_document``); only the
checks across files need them all, and they run in the calling process afterwards. The
calling process works too, on the chunks no worker has started yet: its results need no
transfer (pickling results back costs about as much as validating them). Workers are forked
(they inherit the loaded modules: no start-up cost), and only from a process that runs no
other thread (forking a threaded process can inherit a held lock); small trees and threaded
callers (the watcher inside beat) validate in-process, where a pool would not pay.

With the validation cache, each file's specs get their digests where the file is validated
(what the cache entry and the ownership rows hold: spread over the workers too), and a worker
sends a file's result as its cache entry (``cache.entry``: JSON), which the caller decodes:
making an entry costs a worker less than a pickle, and the entry is made once (at 100,000
declarations, the worker's pickles cost 0.7 s, and the child that stores the entries encoded
every one of them again afterwards: 2.3 s). The caller makes no entry while it validates (the
critical path): the child that stores them makes those of the caller's files.

``in_background``: the cache entries of a large tree are written by a forked child once the
tree is checked, while this process goes on planning and writing; waited for before the cache
is read again, and at exit.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from .cache import decode, entry
from .files import SourceFile
from .load import parse_source
from .shapes import Context, FileResult

MIN_FILES = 32
MIN_BYTES = 1_000_000
CHUNKS_PER_WORKER = 64  # small: a worker holds two at a time (one queued), which the calling process
# cannot take and waits for at the end (at 100,000 declarations: 32 a worker, about 1.0 s after the
# calling process's last chunk with the decode; 64, 0.25-0.35 s; 96, no better)

Checked = tuple[FileResult, str]  # a file's result and its text
Entry = bytes | None  # a file's cache entry (``cache.entry``); None: none is stored for it
_Made = tuple[str, FileResult, Entry]  # a file's name, result and entry
_Done = tuple[str, FileResult | None, Entry]  # what a worker sends: the result, or an entry that holds it


def validate_sources(
    sources: Sequence[SourceFile], context: Context, entries: bool = False,
) -> tuple[list[Checked], list[Entry]]:
    """(result, text) of each source, in order, and with ``entries`` (for the cache) the specs'
    digests computed and the entry of each file a worker validated without an error of its own
    (what it sent); None for the others, whose entry ``cache.entry`` makes when it is stored."""
    workers = _workers(sources)
    if workers < 2:
        each = [_validate(source, context, entries, encode=False) for source in sources]
        return [(result, _text(source)) for (_, result, _), source in zip(each, sources, strict=True)], [
            stored for _, _, stored in each]
    from .document import validate_document  # noqa: F401  loaded before the workers fork: they inherit it

    chunks = [list(sources[i::workers * CHUNKS_PER_WORKER]) for i in range(workers * CHUNKS_PER_WORKER)]
    by_name: dict[str, tuple[FileResult, Entry]] = {}
    with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_validate_chunk, chunk, context, entries) for chunk in chunks]
        unread = deque(futures)
        for future, chunk in zip(reversed(futures), reversed(chunks), strict=True):
            if future.cancel():  # a chunk no worker has started: this process takes it
                _take(by_name, _validate_chunk(chunk, context, entries, here=True))
                _take_sent(by_name, unread, finished_only=True)
        _take_sent(by_name, unread, finished_only=False)
    checked = [(by_name[source.name][0], _text(source)) for source in sources]
    return checked, [by_name[source.name][1] for source in sources]


def _take_sent(
    by_name: dict[str, tuple[FileResult, Entry]], unread: deque[Future[list[_Done]]], finished_only: bool,
) -> None:
    """The workers' chunks, in order: those finished already (decoding them between this
    process's own chunks leaves the workers more of the tree, instead of a decode at the end with
    every worker idle), or all of them, waited for."""
    while unread and (not finished_only or unread[0].done()):
        future = unread.popleft()
        if not future.cancelled():
            _take(by_name, future.result())


def _take(by_name: dict[str, tuple[FileResult, Entry]], done: list[_Done]) -> None:
    for name, result, stored in done:
        if result is None:
            assert stored is not None, "a worker sends the result or its entry"
            result = decode(json.loads(stored))
        by_name[name] = (result, stored)


def _workers(sources: Sequence[SourceFile]) -> int:
    if len(sources) < MIN_FILES or sum(len(s.data or b"") for s in sources) < MIN_BYTES:
        return 1
    if not fork_safe():
        return 1
    return min(os.cpu_count() or 1, 8)


def fork_safe() -> bool:
    """Whether this process may fork a child that goes on running Python: the platform forks, and
    no other thread runs (the child would inherit a lock one of them holds, never released)."""
    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def _validate_chunk(sources: list[SourceFile], context: Context, entries: bool, here: bool = False) -> list[_Done]:
    """The chunk's files. A worker (not ``here``) sends a file's entry alone when it has one (the
    parent has the bytes for the texts); the calling process makes none (the child that stores
    them does, off the critical path: ``tree._remember``)."""
    made: list[_Done] = [_validate(source, context, entries, encode=entries and not here) for source in sources]
    if here:
        return made
    return [(name, None if stored is not None else result, stored) for name, result, stored in made]


def _validate(source: SourceFile, context: Context, digests: bool, encode: bool) -> _Made:
    from .document import validate_document  # start-up: docs/architecture.md, "The import rules"

    document = parse_source(source)
    result = validate_document(
        document, default_timezone=context.default_timezone, now=context.now, env=context.env,
        environments=context.environments,
    )
    stored = entry(result) if encode else None  # None too for an error of the file's own, or a value JSON cannot hold
    if digests and stored is None:
        for declaration in result.declarations:
            declaration.spec.digest()  # kept on the spec, which travels with it
    return result.name, result, stored


def _text(source: SourceFile) -> str:
    try:
        return source.data.decode("utf-8") if source.data is not None else ""
    except UnicodeDecodeError:
        return ""


NICENESS = 10  # the child yields its core to this process and to the database server, whose work waits on
_pending: list[int] = []  # children ``in_background`` started and ``settle`` has not waited for


def in_background(work: Callable[[], None], *, large: bool) -> None:
    """``work`` in a forked child while this process goes on (``settle`` waits for it); in-process
    when it is not ``large``, when other threads run (a fork would inherit their locks), without
    ``fork``, or when the fork fails. The child leaves with ``os._exit``: no exit handlers, no
    buffers of this process flushed twice, never the database."""
    if not large or not fork_safe():
        work()
        return
    try:
        pid = os.fork()
    except OSError:
        work()
        return
    if pid == 0:
        code = 1
        try:
            with contextlib.suppress(OSError):
                os.nice(NICENESS)
            work()
            code = 0
        finally:
            os._exit(code)
    _pending.append(pid)


def settle() -> None:
    """Wait for the children ``in_background`` started (before the cache is read again, and at exit)."""
    while _pending:
        pid = _pending.pop()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


atexit.register(settle)  # nothing to wait for, most of the time
