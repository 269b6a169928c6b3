"""The fast paths of canonical.encoding give exactly the answers of the plain definitions:
parse_hex_int against the spec's regular expression, canonical_bytes against _check plus
json.dumps, and the encoding in pieces (canonical_chunks, object_hash, write_canonical_json)
against canonical_bytes."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical.encoding import (
    Encoded,
    FormatError,
    canonical_bytes,
    canonical_chunks,
    hex_int,
    object_hash,
    parse_hex_int,
)
from canonical.encoding import _check as plain_check
from canonical.files import read_json_file, write_canonical_json

SPEC_HEX = re.compile(r"^(0|[1-9a-f][0-9a-f]*)$")


def spec_parse(text: Any) -> int | None:
    if not isinstance(text, str) or not SPEC_HEX.fullmatch(text):
        return None
    return int(text, 16)


def fast_parse(text: Any) -> int | None:
    try:
        return parse_hex_int(text, "x")
    except FormatError:
        return None


HEXISH = st.text(alphabet="0123456789abcdefABCDEFxX_+- \\t\\n\\u0661\\uff10g", max_size=12)


@given(st.one_of(HEXISH, st.text(max_size=8), st.integers(), st.none(), st.binary(max_size=4)))
@settings(max_examples=500)
def test_parse_hex_int_accepts_exactly_the_canonical_spelling(text: Any) -> None:
    assert fast_parse(text) == spec_parse(text)


@given(st.integers(min_value=0, max_value=1 << 7000))
def test_parse_hex_int_round_trips_hex_int(value: int) -> None:
    assert parse_hex_int(hex_int(value), "x") == value
    for text in (hex_int(value) + "0", "0" + hex_int(value), hex_int(value).upper()):
        assert fast_parse(text) == spec_parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0",
        "00",
        "01",
        "a",
        "A",
        "0x1f",
        "1f",
        "1F",
        "f_f",
        " 1f",
        "1f ",
        "ab cd",
        "-1",
        "+1",
        "\\u0661",
        "1g",
        "0" * 5,
        "abc\\n",
    ],
)
def test_parse_hex_int_examples(text: str) -> None:
    assert fast_parse(text) == spec_parse(text)


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.text(max_size=6)
    # long strings of letters and digits are copied whole by the fast path; the odd quote,
    # backslash, control or non-ASCII character among them must send them to json's escaper
    | st.text(max_size=30)  # any code point: escapes, non-ASCII, lone surrogates
    | st.text(alphabet="0123456789abcdef", min_size=1, max_size=40)
    | st.text(alphabet='0123456789abcdefXYZ_-"\\\n\x00\x7f\u00e9\u2028', min_size=1, max_size=40)
    | st.floats(allow_nan=True),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=4) | st.integers(0, 3), children, max_size=3)
    ),
    max_leaves=12,
)


class Text(str):
    """A str subclass: not one of the fast path's exact types."""


def plain_canonical(obj: Any) -> bytes:
    plain_check(obj, "$")
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def answer(function: Any, obj: Any) -> tuple[str, Any]:
    try:
        return "ok", function(obj)
    except FormatError as exc:
        return "error", str(exc)
    except (TypeError, ValueError) as exc:
        return "other", type(exc).__name__


@given(JSONISH)
@settings(max_examples=400)
def test_canonical_bytes_is_check_plus_dumps(obj: Any) -> None:
    assert answer(canonical_bytes, obj) == answer(plain_canonical, obj)


@pytest.mark.parametrize(
    "obj",
    [
        {"a": "\\ud800"},
        {"\\ud800": 1},
        [1.5],
        {"a": 2**53},
        {"a": -(2**53)},
        {1: "x"},
        {"a": b"x"},
        ["ok", {"b": [True, None, 2**53 - 1]}],
        [Text('a"b'), {"k": Text("c0ffee")}],
        {"é": "\u2028\x7f", "e": 'q"\\'},
    ],
)
def test_canonical_bytes_examples(obj: Any) -> None:
    assert answer(canonical_bytes, obj) == answer(plain_canonical, obj)


def test_nesting_beyond_the_fast_encoders_limit() -> None:
    """orjson refuses more than 255 levels; json's encoder then writes the same bytes."""
    deep: Any = "x"
    for _ in range(300):
        deep = [deep, {"k": 1}]
    assert canonical_bytes(deep) == plain_canonical(deep)


@given(JSONISH, st.integers(0, 4))
@settings(max_examples=400)
def test_the_pieces_join_to_the_canonical_bytes(obj: Any, depth: int) -> None:
    joined = answer(lambda o: b"".join(canonical_chunks(o, depth)), obj)
    assert joined == answer(canonical_bytes, obj)
    if joined[0] == "ok":
        assert object_hash(obj) == hashlib.sha256(joined[1]).digest()


@given(JSONISH)
@settings(max_examples=100, deadline=None)
def test_written_files_hold_the_canonical_bytes(tmp_path_factory: Any, obj: Any) -> None:
    path = Path(tmp_path_factory.mktemp("canonical")) / "doc.json"
    expected = answer(canonical_bytes, obj)
    try:
        write_canonical_json(path, obj)
    except FormatError as exc:
        assert expected == ("error", str(exc))
        assert not path.exists()  # nothing half-written
        return
    assert path.read_bytes() == expected[1] + b"\n"
    assert canonical_bytes(read_json_file(path, "doc")) == expected[1]


def with_encoded(obj: Any, choose: Any) -> Any:
    """obj with some of its values replaced by Encoded(value) (those `choose` picks)."""
    if choose():
        try:
            return Encoded(obj)
        except FormatError:
            pass  # a value without a canonical encoding stays as it is
    if type(obj) is dict:
        return {key: with_encoded(value, choose) for key, value in obj.items()}
    if type(obj) is list:
        return [with_encoded(value, choose) for value in obj]
    return obj


@given(JSONISH, st.randoms(use_true_random=False), st.integers(0, 3))
@settings(max_examples=300)
def test_encoded_values_stand_for_their_values(obj: Any, random: Any, depth: int) -> None:
    """Encoded(value) inside a document: the same bytes, pieces, hash and errors as the
    document itself; pickled between processes, it keeps its bytes."""
    mixed = with_encoded(obj, lambda: random.random() < 0.3)
    expected = answer(canonical_bytes, obj)
    assert answer(canonical_bytes, mixed) == expected
    assert answer(lambda o: b"".join(canonical_chunks(o, depth)), mixed) == expected
    if expected[0] == "ok":
        assert object_hash(mixed) == hashlib.sha256(expected[1]).digest()
        again = pickle.loads(pickle.dumps(Encoded(obj)))  # noqa: S301 (bytes made just above)
        assert again == Encoded(obj) and again.data == expected[1]
        assert canonical_bytes(again.value()) == expected[1]


def test_encoded_refuses_what_has_no_canonical_encoding() -> None:
    with pytest.raises(FormatError, match=r"\$\.a: integer too large"):
        Encoded({"a": 2**53})


def test_string_escapes_are_the_specs() -> None:
    """docs/spec.md, "Canonical encoding": the escapes, as bytes (not as json.dumps says)."""
    text = '"\\\b\t\n\f\r\x01\x1f/\x7f\u2028é'
    expected = b'{"k\\u0000":"\\"\\\\\\b\\t\\n\\f\\r\\u0001\\u001f/\x7f\xe2\x80\xa8\xc3\xa9"}'
    assert canonical_bytes({"k\x00": text}) == expected
    assert b"".join(canonical_chunks({"k\x00": text}, 1)) == expected
