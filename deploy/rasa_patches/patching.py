"""One replaced attribute of a Rasa class, applied and reverted the same way for all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_MISSING = object()
_originals: dict[Patch, Any] = {}


@dataclass(frozen=True)
class Patch:
    """`owner.name` replaced by `replacement`, stored as the class stores it (wrap a
    static method in `staticmethod`)."""

    owner: type
    name: str
    replacement: Any

    def applied(self) -> bool:
        """Whether the class holds the replacement now."""
        return self.owner.__dict__.get(self.name) is self.replacement


def apply(patches: Iterable[Patch]) -> None:
    """Puts each replacement in place, keeping what the class had (idempotent)."""
    for patch in patches:
        if patch not in _originals:
            _originals[patch] = patch.owner.__dict__.get(patch.name, _MISSING)
        setattr(patch.owner, patch.name, patch.replacement)


def revert(patches: Iterable[Patch]) -> None:
    """Gives each class back what it had before `apply` (tests)."""
    for patch in patches:
        original = _originals.pop(patch, None)
        if original is _MISSING:
            delattr(patch.owner, patch.name)
        elif original is not None:
            setattr(patch.owner, patch.name, original)
