"""Parse and validate many files on every core: the cold path of a large tree.

Each file is parsed and validated on its own (``document.validate_document``); only the
checks across files need them all, and they run in the calling process afterwards. The
calling process works too, on the chunks no worker has started yet: its results need no
transfer (pickling results back costs about as much as validating them). Workers are forked
(they inherit the loaded modules: no start-up cost), and only from a process that runs no
other thread (forking a threaded process can inherit a held lock); small trees and threaded
callers (the watcher inside beat) validate in-process, where a pool would not pay. With the
validation cache, each file's declarations get their digests where the file was validated
(what the cache entry and the ownership rows hold: spread over the workers too).

``in_background``: the cache entries of a large tree are encoded and written by a forked child
once the tree is checked, while this process goes on planning and writing, single-threaded,
with the other core idle; waited for before the cache is read again, and at exit.
"""
from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

from ..core.diagnostics import has_errors
from .document import Context, FileResult, validate_document
from .files import SourceFile
from .load import parse_source

MIN_FILES = 32
MIN_BYTES = 1_000_000
CHUNKS_PER_WORKER = 32  # small: a worker holds two at a time (one queued), which the calling process cannot take

Checked = tuple[FileResult, str]  # a file's result and its text


def validate_sources(sources: Sequence[SourceFile], context: Context, digests: bool = False) -> list[Checked]:
    """(result, text) of each source, in order; with ``digests``, its specs' digests computed."""
    workers = _workers(sources)
    if workers < 2:
        return [_validate(source, context, digests) for source in sources]
    chunks = [list(sources[i::workers * CHUNKS_PER_WORKER]) for i in range(workers * CHUNKS_PER_WORKER)]
    with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_validate_chunk, chunk, context, digests) for chunk in chunks]
        done = [_validate_chunk(chunk, context, digests)  # the calling process takes the chunks no worker has started
                for future, chunk in zip(reversed(futures), reversed(chunks), strict=True) if future.cancel()]
        done += [future.result() for future in futures if not future.cancelled()]
    by_name = {result.name: result for chunk in done for result in chunk}
    return [(by_name[source.name], _text(source)) for source in sources]


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


def _validate_chunk(sources: list[SourceFile], context: Context, digests: bool) -> list[FileResult]:
    """In a worker: only the results travel back (the parent has the bytes for the texts)."""
    return [_validate(source, context, digests)[0] for source in sources]


def _validate(source: SourceFile, context: Context, digests: bool) -> Checked:
    document = parse_source(source)
    result = validate_document(
        document, default_timezone=context.default_timezone, now=context.now, env=context.env,
        environments=context.environments,
    )
    if digests and not has_errors(result.diagnostics):
        for declaration in result.declarations:
            declaration.spec.digest()  # kept on the spec, which travels with it
    return result, document.text


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
