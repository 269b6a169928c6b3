"""Reading and writing format files: atomic writes, clear errors on reads.

Never a half-written file: data goes to a temporary file in the same directory, is fsynced,
then renamed over the target (atomic on POSIX), and the directory is fsynced.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from canonical.encoding import FormatError, canonical_chunks, decode_utf8, parse_canonical


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one."""
    write_atomic_chunks(path, (data,), mode)


def write_atomic_chunks(
    path: str | os.PathLike[str], chunks: Iterable[bytes], mode: int = 0o644
) -> None:
    """write_atomic of the concatenated `chunks`, written as they come."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_canonical_json(path: str | os.PathLike[str], obj: Any, mode: int = 0o644) -> None:
    """Write an object in its canonical encoding (plus a final newline), atomically, in
    pieces (a ballot bundle is never encoded whole in memory)."""
    write_atomic_chunks(path, itertools.chain(canonical_chunks(obj), (b"\n",)), mode)


def read_json_file(path: str | os.PathLike[str], what: str) -> Any:
    """Read a JSON file from outside; a missing or malformed file is a FormatError naming it."""
    source = Path(path)
    try:
        # decoded at once, so that a large file's bytes are freed before its text is parsed
        text = decode_utf8(source.read_bytes(), what)
    except FileNotFoundError as exc:
        raise FormatError(what, f"file {source} not found") from exc
    except OSError as exc:
        raise FormatError(what, f"cannot read {source}: {exc.strerror}") from exc
    return parse_canonical(text, what)
