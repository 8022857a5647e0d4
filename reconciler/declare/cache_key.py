"""The key of a validation cache entry: what a file's result depends on besides its bytes.
The reconciler's own code (a rule that changes is a key that changes) and the Celery registry
(every task name, signature and type hint, as text that is the same in every process).
"""
from __future__ import annotations

import enum
import hashlib
import re
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any

from .resolve import Registry


@lru_cache(maxsize=1)
def code_fingerprint() -> bytes:
    """A hash of the reconciler package's own modules (migrations, admin and API aside)."""
    root = Path(__file__).resolve().parent.parent
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
        hints = sorted((key, hint_fingerprint(value)) for key, value in registry.hints.get(name, {}).items())
        digest.update(_ADDRESS.sub("", f"{name}\0{registry.signatures[name]}\0{hints}\n").encode())
    return digest.digest()


def hint_fingerprint(hint: Any, seen: frozenset[int] = frozenset()) -> str:
    """What a type hint accepts, as text: ``repr`` says ``<enum 'Color'>`` whatever its members,
    so an Enum is spelled with its members and values, a generic with its arguments (a Literal's
    values), a class with fields (dataclass, TypedDict, NamedTuple, pydantic model) with them."""
    if id(hint) in seen:
        return _ADDRESS.sub("", repr(hint))
    seen = seen | {id(hint)}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        members = ", ".join(f"{name}={member.value!r}" for name, member in hint.__members__.items())
        return f"{hint.__module__}.{hint.__qualname__}({members})"
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin is not None:
        inner = ", ".join(hint_fingerprint(argument, seen) for argument in arguments)
        return f"{hint_fingerprint(origin, seen)}[{inner}]"
    if isinstance(hint, type) and hint.__module__ != "builtins":
        return _class_fingerprint(hint, seen)
    return _ADDRESS.sub("", repr(hint))


def _class_fingerprint(cls: type, seen: frozenset[int]) -> str:
    fields: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        fields.update(getattr(klass, "__annotations__", {}) or {})
    described = ", ".join(f"{name}: {hint_fingerprint(value, seen)}" for name, value in fields.items())
    extra = [repr(getattr(cls, attribute)) for attribute in ("__required_keys__", "model_fields",
                                                             "__dataclass_fields__") if hasattr(cls, attribute)]
    return _ADDRESS.sub("", f"{cls.__module__}.{cls.__qualname__}{{{described}}}{''.join(extra)}")
