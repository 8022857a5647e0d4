"""Parse and validate many files on every core: the cold path of a large tree.

Each file is parsed and validated on its own (``document.validate_document``); only the
checks across files need them all, and they run in the calling process afterwards. The
calling process works too, on the chunks no worker has started yet: its results need no
transfer (pickling results back costs about as much as validating them). Workers are forked
(they inherit the loaded modules: no start-up cost), and only from a process that runs no
other thread (forking a threaded process can inherit a held lock); small trees and threaded
callers (the watcher inside beat) validate in-process, where a pool would not pay.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from .document import Context, FileResult, validate_document
from .files import SourceFile
from .load import parse_source

MIN_FILES = 32
MIN_BYTES = 1_000_000
CHUNKS_PER_WORKER = 8  # small enough for the calling process and the workers to even out


def validate_sources(sources: Sequence[SourceFile], context: Context) -> list[tuple[FileResult, str]]:
    """(result, text) of each source, in order."""
    workers = _workers(sources)
    if workers < 2:
        return [_validate(source, context) for source in sources]
    chunks = [list(sources[i::workers * CHUNKS_PER_WORKER]) for i in range(workers * CHUNKS_PER_WORKER)]
    with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_validate_chunk, chunk, context) for chunk in chunks]
        done = [_validate_chunk(chunk, context)  # the calling process takes the chunks no worker has started
                for future, chunk in zip(reversed(futures), reversed(chunks), strict=True) if future.cancel()]
        done += [future.result() for future in futures if not future.cancelled()]
    by_name = {result.name: result for chunk in done for result in chunk}
    return [(by_name[source.name], _text(source)) for source in sources]


def _workers(sources: Sequence[SourceFile]) -> int:
    if len(sources) < MIN_FILES or sum(len(s.data or b"") for s in sources) < MIN_BYTES:
        return 1
    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return min(os.cpu_count() or 1, 8)


def _validate_chunk(sources: list[SourceFile], context: Context) -> list[FileResult]:
    """In a worker: only the results travel back (the parent has the bytes for the texts)."""
    return [_validate(source, context)[0] for source in sources]


def _validate(source: SourceFile, context: Context) -> tuple[FileResult, str]:
    document = parse_source(source)
    result = validate_document(
        document, default_timezone=context.default_timezone, now=context.now, env=context.env,
        environments=context.environments,
    )
    return result, document.text


def _text(source: SourceFile) -> str:
    try:
        return source.data.decode("utf-8") if source.data is not None else ""
    except UnicodeDecodeError:
        return ""
