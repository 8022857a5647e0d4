"""Pausing the cyclic garbage collector around the pipeline's bulk allocations."""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while the pipeline allocates its (acyclic) values.

    Loading 10,000 declarations allocates millions of small objects; each allocation burst
    triggers generation scans that cost more than the parsing itself (measured: 2.3x).
    Nothing built here forms cycles that need the collector; it runs again on exit.

    On exit, what survived goes straight to the oldest generation (``freeze`` then
    ``unfreeze``: a list splice, no scan), where a collection would have moved it anyway.
    Re-enabled without that, the first allocation would scan every object made meanwhile
    (measured: 0.26 s after a no-op apply of 100,000 declarations). Cyclic garbage is still
    found, by the next full collection.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()
