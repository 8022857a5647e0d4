"""The validation cache: what validating (and resolving) one file yields, stored by the
file's content, so that an unchanged file is not parsed again.

The key of an entry is a hash of everything its result depends on: the file's bytes and
displayed name, the reconciler's own code (every module of the package: a rule that changes
is a key that changes), the Celery registry (every task name, signature and type hint), the
default time zone and the environment. Only files without errors are stored (an error is
found again, never replayed); what depends on the moment of the run (``past-one-off``) or
on other files (duplicate names, renames, lints) is computed at every run. An entry that
cannot be read is a miss: a corrupt cache can cost time, never hide a problem.

Entries are files written atomically (a temporary file renamed over), so processes that
share the folder never read half an entry.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import tempfile
from functools import lru_cache
from pathlib import Path

from .files import SourceFile
from .resolve import Registry
from .validate import FileResult

FORMAT = b"reconciler-validation-cache-1"


class ValidationCache:
    def __init__(self, folder: Path, context: bytes) -> None:
        self.folder = folder
        self.context = context
        self.hits = 0
        self.misses = 0

    @classmethod
    def open(cls, folder: Path, registry: Registry, env: str | None, environments: tuple[str, ...]) -> ValidationCache:
        parts = [FORMAT, code_fingerprint(), registry_fingerprint(registry), registry.timezone.encode(),
                 repr((env, environments)).encode()]
        return cls(folder, hashlib.sha256(b"\0".join(parts)).digest())

    def _path(self, source: SourceFile) -> Path:
        assert source.data is not None
        digest = hashlib.sha256(self.context + source.name.encode() + b"\0" + source.data).hexdigest()
        return self.folder / digest[:2] / f"{digest}.pickle"

    def get(self, source: SourceFile) -> FileResult | None:
        if source.data is None:
            return None
        try:
            with self._path(source).open("rb") as handle:
                found = pickle.load(handle)  # our own folder, written by this code
        except Exception:  # missing, truncated, unreadable, from another version: a miss
            found = None
        if not isinstance(found, FileResult) or found.name != source.name:
            self.misses += 1
            return None
        self.hits += 1
        return found

    def put(self, source: SourceFile, result: FileResult) -> None:
        """Best effort: a folder that cannot be written only means no cache."""
        path = self._path(source)
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(handle, "wb") as out:
                    pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise


@lru_cache(maxsize=1)
def code_fingerprint() -> bytes:
    """A hash of the reconciler package's own modules (migrations, admin and API aside)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(("migrations/", "admin", "api/")):
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes())
    return digest.digest()


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def registry_fingerprint(registry: Registry) -> bytes:
    """Names, signatures (defaults included) and hints, as text without the memory addresses
    that some defaults print (``<function f at 0x7f…>``): the same in every process."""
    digest = hashlib.sha256()
    for name in sorted(registry.signatures):
        hints = sorted((key, repr(value)) for key, value in registry.hints.get(name, {}).items())
        digest.update(_ADDRESS.sub("", f"{name}\0{registry.signatures[name]}\0{hints}\n").encode())
    return digest.digest()
