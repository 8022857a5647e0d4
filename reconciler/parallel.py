"""Parse and validate many files on every core: the cold path of a large tree.

Each file is parsed and validated on its own (``validate.validate_document``); only the
checks across files need them all, and they run in the calling process afterwards. Workers
are forked (they inherit the loaded modules: no start-up cost), and only from a process that
runs no other thread (forking a threaded process can inherit a held lock); small trees and
threaded callers (the watcher inside beat) validate in-process, where a pool would not pay.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from .files import SourceFile
from .load import parse_source
from .validate import Context, FileResult, validate_document

MIN_FILES = 32
MIN_BYTES = 1_000_000


def validate_sources(sources: Sequence[SourceFile], context: Context) -> list[tuple[FileResult, str]]:
    """(result, text) of each source, in order."""
    workers = _workers(sources)
    if workers < 2:
        return [_validate(source, context) for source in sources]
    chunks = [list(sources[i::workers * 4]) for i in range(workers * 4)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        done = list(pool.map(_validate_chunk, chunks, [context] * len(chunks)))
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
