"""Parse and validate many files on every core: the cold path of a large tree.

Each file is parsed and validated on its own (``document.validate_document``); only the
checks across files need them all, and they run in the calling process afterwards. The
calling process works too, on the chunks no worker has started yet: its results need no
transfer (pickling results back costs about as much as validating them). Workers are forked
(they inherit the loaded modules: no start-up cost), and only from a process that runs no
other thread (forking a threaded process can inherit a held lock); small trees and threaded
callers (the watcher inside beat) validate in-process, where a pool would not pay. A file's
validation cache entry is encoded and written, under a temporary name, where the file was
validated (``stage``): that work, and the digests it computes, is spread over the workers too,
and the calling process only renames the entries it keeps (``tree._remember``).
"""
from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

from .cache import Staged
from .document import Context, FileResult, validate_document
from .files import SourceFile
from .load import parse_source

MIN_FILES = 32
MIN_BYTES = 1_000_000
CHUNKS_PER_WORKER = 32  # small: a worker holds two at a time (one queued), which the calling process cannot take

Stage = Callable[[SourceFile, FileResult], Staged | None]  # ``cache.ValidationCache.stage``
Checked = tuple[FileResult, str, Staged | None]  # a file's result, its text, its staged entry (None: not staged)


def validate_sources(sources: Sequence[SourceFile], context: Context, stage: Stage | None = None) -> list[Checked]:
    """(result, text, ``stage(source, result)``) of each source, in order; without ``stage``, no entry."""
    workers = _workers(sources)
    if workers < 2:
        return [_validate(source, context, stage) for source in sources]
    chunks = [list(sources[i::workers * CHUNKS_PER_WORKER]) for i in range(workers * CHUNKS_PER_WORKER)]
    with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_validate_chunk, chunk, context, stage) for chunk in chunks]
        done = [_validate_chunk(chunk, context, stage)  # the calling process takes the chunks no worker has started
                for future, chunk in zip(reversed(futures), reversed(chunks), strict=True) if future.cancel()]
        done += [future.result() for future in futures if not future.cancelled()]
    by_name = {result.name: (result, data) for chunk in done for result, data in chunk}
    return [(by_name[source.name][0], _text(source), by_name[source.name][1]) for source in sources]


def _workers(sources: Sequence[SourceFile]) -> int:
    if len(sources) < MIN_FILES or sum(len(s.data or b"") for s in sources) < MIN_BYTES:
        return 1
    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return min(os.cpu_count() or 1, 8)


def _validate_chunk(
    sources: list[SourceFile], context: Context, stage: Stage | None,
) -> list[tuple[FileResult, Staged | None]]:
    """In a worker: only the results and the entries' names travel back (the parent has the bytes for the texts)."""
    return [(result, staged) for result, _, staged in (_validate(source, context, stage) for source in sources)]


def _validate(source: SourceFile, context: Context, stage: Stage | None) -> Checked:
    document = parse_source(source)
    result = validate_document(
        document, default_timezone=context.default_timezone, now=context.now, env=context.env,
        environments=context.environments,
    )
    return result, document.text, stage(source, result) if stage is not None else None


def _text(source: SourceFile) -> str:
    try:
        return source.data.decode("utf-8") if source.data is not None else ""
    except UnicodeDecodeError:
        return ""
