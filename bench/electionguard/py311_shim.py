"""Lets ElectionGuard 1.4.0 import on Python 3.11 and later: the smallest change that does.

Python 3.11 refuses a dataclass field whose default is an instance of an unhashable class
("mutable default <class 'electionguard.elgamal.ElGamalCiphertext'> for field ciphertext is not
allowed: use default_factory"); 3.10 only refused list, dict and set defaults. ElectionGuard 1.4.0
has one such default (electionguard.tally.CiphertextTallySelection.ciphertext, an
ElGamalCiphertext), in a module that encryption imports too, so it does not import on 3.11. This
shim lets that one check pass for dataclass instances, exactly as 3.10 did: the class
is made hashable only while its field is checked, and every instance shares the one default
object as it does on 3.10. Nothing else changes. Import it before electionguard; on 3.10, which
checks no hash, it changes nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

_get_field = dataclasses._get_field  # type: ignore[attr-defined]


def _get_field_as_on_310(cls: type, a_name: str, a_type: Any, *rest: Any) -> Any:
    default = cls.__dict__.get(a_name, dataclasses.MISSING)
    if isinstance(default, dataclasses.Field):
        default = default.default
    kind = type(default)
    if not dataclasses.is_dataclass(default) or isinstance(default, type) or kind.__hash__:
        return _get_field(cls, a_name, a_type, *rest)
    kind.__hash__ = object.__hash__  # type: ignore[method-assign]
    try:
        return _get_field(cls, a_name, a_type, *rest)
    finally:
        kind.__hash__ = None  # type: ignore[assignment]


dataclasses._get_field = _get_field_as_on_310  # type: ignore[attr-defined]
