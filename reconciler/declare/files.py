"""The files of a schedules tree: which ones (discovery), and their bytes.

Every ``*.yaml``/``*.yml`` below a folder, whatever the case of the suffix, hidden files and
folders skipped, symbolic links followed only inside the folder; each read once, as bytes
(what the validation cache is keyed by), or with the reason it could not be read.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..core.diagnostics import Diagnostic, SourceRange, error
from ..core.errors import PathNotFound

MAX_FILE_BYTES = 5 * 1024 * 1024
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SourceFile:
    """One file's bytes (what the validation cache is keyed by), or why they are missing."""

    name: str
    data: bytes | None
    failure: Diagnostic | None = None


def read_source(path: Path, *, max_bytes: int = MAX_FILE_BYTES, name: str | None = None) -> SourceFile:
    shown = name or display_path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return SourceFile(shown, None, error(
                "file-too-large",
                f"the file is {size:,} bytes, over the limit of {max_bytes:,}: split it into several files",
                source=SourceRange(shown),
            ))
        return SourceFile(shown, path.read_bytes())
    except OSError as exc:
        return SourceFile(shown, None, error(
            "io-error", f"the file cannot be read: {exc.strerror or exc}", source=SourceRange(shown),
        ))


def read_sources(paths: Iterable[Path]) -> Iterator[SourceFile]:
    found = [discover(root) for root in paths]
    for discovery in found:
        for problem in discovery.diagnostics:
            assert problem.source is not None
            yield SourceFile(problem.source.file, None, problem)
        for path in discovery.files:
            yield read_source(path)


@dataclass(frozen=True)
class Discovery:
    files: tuple[Path, ...]
    diagnostics: tuple[Diagnostic, ...] = ()


def discover(root: Path) -> Discovery:
    """Every ``*.yaml``/``*.yml`` below ``root`` (any case; or ``root`` itself), in a stable
    order. Hidden files and folders (``.git/``, editors' ``.#swap`` files) are skipped; a
    symbolic link that leads out of ``root`` is refused with a diagnostic, never followed."""
    require_exists(root)
    if not root.is_dir():
        return Discovery((root,))
    base = root.resolve()
    files: list[Path] = []
    problems: list[Diagnostic] = []
    seen_dirs = {base}
    for folder, dirs, names in os.walk(root, followlinks=True):
        here = Path(folder)
        kept = []
        for name in sorted(dirs):
            real = (here / name).resolve()
            if name.startswith("."):
                continue
            if not real.is_relative_to(base):
                problems.append(_outside(here / name, real))
            elif real not in seen_dirs:  # a link back into the tree: read its files once
                seen_dirs.add(real)
                kept.append(name)
        dirs[:] = kept
        for name in names:
            path = here / name
            if name.startswith(".") or not name.lower().endswith(SUFFIXES):
                continue
            if not os.path.islink(path):  # its folder is inside the tree (the folders kept above)
                if path.is_file():
                    files.append(path)
                continue
            real = path.resolve()
            if not real.is_relative_to(base):
                problems.append(_outside(path, real))
            elif real.is_file():
                files.append(path)
            elif not real.exists():
                problems.append(error(
                    "io-error", "this symbolic link leads nowhere (its target does not exist)",
                    source=SourceRange(display_path(path)),
                ))
    files.sort(key=lambda p: p.relative_to(root).as_posix())
    return Discovery(tuple(files), tuple(problems))


def require_exists(root: Path) -> None:
    if not root.exists():
        raise PathNotFound(
            f"the schedules path {root.as_posix()!r} does not exist (cwd: {Path.cwd()}); "
            "nothing was checked or changed. Check --path or RECONCILER_SCHEDULES_DIR."
        )


def _outside(path: Path, real: Path) -> Diagnostic:
    return error(
        "symlink-outside", f"this symbolic link leads out of the schedules folder (to {real}); it is not read",
        source=SourceRange(display_path(path)), hint="keep schedules inside the folder, or point --path at the target",
    )


def display_path(path: Path, base: Path | None = None) -> str:
    """Paths as the user and CI annotations expect them: relative to the working directory."""
    try:
        shown = path.resolve().relative_to(_resolved(str(base or Path.cwd()))).as_posix()
    except ValueError:
        shown = path.as_posix()
    return _printable(shown)


@lru_cache(maxsize=8)
def _resolved(folder: str) -> Path:
    return Path(folder).resolve()


def _printable(name: str) -> str:
    """A file name's undecodable bytes (``caf\xe9.yaml`` on a UTF-8 system) spelled as escapes:
    a displayed name is always text that any output and any database can hold."""
    if name.isascii() or not any("\udc80" <= c <= "\udcff" for c in name):
        return name
    return os.fsencode(name).decode("utf-8", "backslashreplace")
