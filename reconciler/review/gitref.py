"""The schedule files at a git ref, read with git itself: no checkout, no temporary work tree.

``git rev-parse`` resolves the ref, ``git ls-tree`` lists the folder at that commit and one
``git cat-file --batch`` streams every blob; each text goes through ``load_text`` exactly as a
file of the working tree goes through ``load_file``.
"""
from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..core.diagnostics import SourceRange, error
from ..core.errors import EXIT_USAGE, ReconcilerError
from ..declare.files import MAX_FILE_BYTES, SUFFIXES, display_path
from ..declare.load import RawDocument, load_text
from ..render.markdown import valid_utf8


class GitError(ReconcilerError):
    """Not in a git repository, a ref that does not resolve, a path git does not know."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Blob:
    path: str  # relative to the repository's top level, POSIX
    oid: str
    size: int


@dataclass(frozen=True)
class Snapshot:
    """The schedule files of ``paths`` at ``commit``, as the loader's raw documents."""

    ref: str
    commit: str
    documents: tuple[RawDocument, ...]


def git(args: Sequence[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    """Run git; a failure is a ``GitError`` carrying git's own first line."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed (needed by plan --against)") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(reason[0] if reason else f"git {args[0]} failed")
    return done.stdout


def repository_root(path: Path) -> Path:
    start = _existing_dir(path)
    try:
        top = git(["rev-parse", "--show-toplevel"], start)
    except GitError:
        raise GitError(f"{display_path(path)} is not in a git repository") from None
    return Path(top.decode().strip())


def _existing_dir(path: Path) -> Path:
    here = path.resolve()
    while not here.is_dir():
        here = here.parent
    return here


def resolve_commit(ref: str, root: Path) -> str:
    try:
        found = git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], root)
    except GitError:
        raise GitError(f"the git ref {ref!r} does not resolve to a commit (fetch it first?)") from None
    return found.decode().strip()


def in_repository(path: Path, root: Path) -> str:
    """``path`` relative to the repository's top level; outside of it is a ``GitError``."""
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        raise GitError(f"{display_path(path)} is outside the git repository {root}") from None
    return relative.as_posix() or "."


def list_blobs(commit: str, relative: str, root: Path) -> list[Blob]:
    """Every ``*.yaml``/``*.yml`` blob at ``commit`` below ``relative`` (or that file), chosen
    as the working tree's discovery chooses: any case of the suffix, hidden files and folders
    skipped. Symbolic links are not followed at a ref (git stores only their target)."""
    listing = git(["ls-tree", "-r", "-l", "-z", "--full-tree", commit, "--", relative], root)
    blobs = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, oid, size = meta.split()
        path = name.decode("utf-8", errors="surrogateescape")
        if kind == b"blob" and mode != b"120000" and _discoverable(path, relative):
            blobs.append(Blob(path, oid.decode(), int(size)))
    return sorted(blobs, key=lambda b: b.path)


def _discoverable(path: str, relative: str) -> bool:
    inside = PurePosixPath(path).relative_to(relative) if relative not in (".", path) else PurePosixPath(path)
    if relative == path:
        return True  # a file given by name
    return path.lower().endswith(SUFFIXES) and not any(part.startswith(".") for part in inside.parts)


def tracked(relative: str, root: Path) -> bool:
    """Whether git's index knows anything at ``relative`` (a new folder of this change)."""
    return bool(git(["ls-files", "-z", "--", relative], root).strip(b"\0"))


def read_blobs(blobs: Sequence[Blob], root: Path) -> dict[str, bytes]:
    """All blob contents in one ``git cat-file --batch`` process."""
    if not blobs:
        return {}
    out = git(["cat-file", "--batch"], root, stdin="".join(f"{b.oid}\n" for b in blobs).encode())
    contents: dict[str, bytes] = {}
    position = 0
    for blob in blobs:
        header_end = out.index(b"\n", position)
        size = int(out[position:header_end].split()[2])
        start = header_end + 1
        contents[blob.oid] = out[start:start + size]
        position = start + size + 1  # the content is followed by a newline
    return contents


def snapshot(ref: str, paths: Sequence[Path]) -> Snapshot:
    """The schedule files under ``paths`` (working-tree paths) as they are at ``ref``."""
    root = repository_root(paths[0])
    commit = resolve_commit(ref, root)
    blobs: list[Blob] = []
    for path in paths:
        relative = in_repository(path, root)
        found = list_blobs(commit, relative, root)
        if not found and not tracked(relative, root):
            raise GitError(f"{display_path(path)} is not in git (neither at {ref} nor in the index)")
        blobs.extend(found)
    contents = read_blobs(_small(blobs), root)
    documents = tuple(_document(blob, contents.get(blob.oid), root) for blob in blobs)
    return Snapshot(ref, commit, documents)


def _small(blobs: list[Blob]) -> list[Blob]:
    return [b for b in blobs if b.size <= MAX_FILE_BYTES]


def _document(blob: Blob, content: bytes | None, root: Path) -> RawDocument:
    """Named as the working tree's file would be, so that both sides speak of the same files;
    a name that is not UTF-8 is shown with U+FFFD for its undecodable bytes (output stays UTF-8)."""
    name = valid_utf8(display_path(root / blob.path))
    if content is None:
        return _failed(name, "file-too-large", f"the file is {blob.size:,} bytes, over the limit of {MAX_FILE_BYTES:,}")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _failed(name, "yaml-syntax", f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
    return load_text(text, name)


def _failed(name: str, code: str, message: str) -> RawDocument:
    return RawDocument(name, None, "", diagnostics=(error(code, message, source=SourceRange(name)),))
