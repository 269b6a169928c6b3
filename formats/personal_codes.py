"""Personal-code schemes: the one home of what a voter's personal code may look like.

An election names its scheme in the definition; the manifest carries it (docs/spec.md,
"Personal codes"), so every role and the verifier check codes the same way:

- `opaque` (the default, and what a manifest without `personal_code_scheme` means): letters,
  digits and hyphens, starting with a letter or digit, at most 64 characters.
- `thai-citizen-id`: 13 digits, the first 1 to 8, the last a mod-11 check digit.
- `estonian-personal-code` (isikukood): 11 digits GYYMMDDSSSC, G 1 to 6 (century and sex),
  YYMMDD a real date in that century, SSS a serial, C the check digit of the Estonian standard.

Pure functions; `check` raises FormatError naming the problem, and never says what the right
check digit would be (that would let anyone turn a mistyped code into a valid one).
"""

from __future__ import annotations

import re
from datetime import date

from canonical.encoding import FormatError

OPAQUE = "opaque"
THAI_CITIZEN_ID = "thai-citizen-id"
ESTONIAN_PERSONAL_CODE = "estonian-personal-code"
SCHEMES = (OPAQUE, THAI_CITIZEN_ID, ESTONIAN_PERSONAL_CODE)

# The opaque rule, which every scheme's codes also satisfy: an Estonian isikukood, a Thai
# citizen ID and other countries' codes. \Z, not $: "$" also matches before a final newline.
PERSONAL_CODE_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}\Z")

_THAI_LENGTH = 13
_ESTONIAN_LENGTH = 11
# First digit -> century of birth (1, 2: 1800s; 3, 4: 1900s; 5, 6: 2000s); odd men, even women.
_ESTONIAN_CENTURY = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}
_ESTONIAN_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 1)
_ESTONIAN_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 1, 2, 3)


def thai_check_digit(first12: str) -> int:
    """d13 = (11 - x) mod 10, x = (sum over i = 1..12 of (14 - i) * d_i) mod 11."""
    x = sum((14 - i) * int(d) for i, d in enumerate(first12, 1)) % 11
    return (11 - x) % 10


def estonian_check_digit(first10: str) -> int:
    """The Estonian standard's check digit of the first ten digits."""
    digits = [int(d) for d in first10]
    total = sum(w * d for w, d in zip(_ESTONIAN_WEIGHTS_1, digits, strict=True)) % 11
    if total == 10:
        total = sum(w * d for w, d in zip(_ESTONIAN_WEIGHTS_2, digits, strict=True)) % 11
    return 0 if total == 10 else total


def _digits(code: str, length: int, field: str) -> None:
    # str.isdigit accepts other scripts' digits ("๑", "²"): only ASCII 0-9 are digits here
    if not code or any(ch not in "0123456789" for ch in code):
        raise FormatError(field, f"{code!r} is not {length} digits (only digits 0-9)")
    if len(code) != length:
        raise FormatError(field, f"{len(code)} digits, expected {length}")


def check(scheme: str, code: str, field: str = "personal_code") -> None:
    """Raise FormatError (naming `field`) when `code` is not a personal code of `scheme`."""
    if scheme == OPAQUE:
        if not code:
            raise FormatError(field, "empty")
        if not PERSONAL_CODE_RE.match(code):
            raise FormatError(
                field,
                f"{code!r} is not a personal code (letters, digits and hyphens, at most 64)",
            )
    elif scheme == THAI_CITIZEN_ID:
        _digits(code, _THAI_LENGTH, field)
        if code[0] not in "12345678":
            raise FormatError(field, "a Thai citizen ID starts with a digit from 1 to 8")
        if thai_check_digit(code[:12]) != int(code[12]):
            raise FormatError(field, "the check digit does not match")
    elif scheme == ESTONIAN_PERSONAL_CODE:
        _digits(code, _ESTONIAN_LENGTH, field)
        century = _ESTONIAN_CENTURY.get(int(code[0]))
        if century is None:
            raise FormatError(
                field, "an Estonian personal code starts with a digit from 1 to 6"
            )
        try:
            date(century + int(code[1:3]), int(code[3:5]), int(code[5:7]))
        except ValueError:
            raise FormatError(
                field, f"{code[1:7]} (YYMMDD) is not a date of birth in the {century}s"
            ) from None
        if estonian_check_digit(code[:10]) != int(code[10]):
            raise FormatError(field, "the check digit does not match")
    else:
        raise ValueError(f"unknown personal-code scheme {scheme!r}")


def problem(scheme: str, code: str) -> str | None:
    """What is wrong with `code` under `scheme` (FormatError.problem), or None when it fits."""
    try:
        check(scheme, code)
    except FormatError as exc:
        return exc.problem
    return None
