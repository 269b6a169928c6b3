"""Canonical encoding and hashes (canonical/encoding.py): stability, round trips, refusals,
hex and base64url forms, domain separation, known-answer vectors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canonical.encoding import (
    DOMAINS,
    MAX_SAFE_INT,
    FormatError,
    b64url,
    canonical_bytes,
    check_version,
    domain_hash,
    hex_int,
    object_hash,
    parse_b64url,
    parse_canonical,
    parse_hex_int,
)

VECTORS = Path(__file__).parent.parent / "vectors"

# JSON-shaped values canonical encoding accepts (no surrogates: they have no UTF-8 form)
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-MAX_SAFE_INT, MAX_SAFE_INT), texts)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(texts, inner, max_size=5)),
    max_leaves=25,
)


def reordered(value: Any, seed: int) -> Any:
    """The same value with every object's keys inserted in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        if items:
            k = seed % len(items)
            items = items[k:][::-1] + items[:k]
        return {key: reordered(item, seed + 1) for key, item in items}
    if isinstance(value, list):
        return [reordered(item, seed + 1) for item in value]
    return value


@given(values, st.integers(0, 100))
def test_stable_and_key_order_irrelevant(value: Any, seed: int) -> None:
    data = canonical_bytes(value)
    assert canonical_bytes(value) == data
    assert canonical_bytes(reordered(value, seed)) == data
    assert object_hash(reordered(value, seed)) == hashlib.sha256(data).digest()


@given(values)
def test_round_trip(value: Any) -> None:
    data = canonical_bytes(value)
    assert parse_canonical(data) == value
    assert canonical_bytes(parse_canonical(data)) == data
    # the form: no whitespace outside strings, keys sorted by code point
    text = data.decode("utf-8")
    if isinstance(value, dict):
        assert list(json.loads(text)) == sorted(value)


@given(values)
def test_whitespace_and_order_of_input_do_not_matter(value: Any) -> None:
    loose = json.dumps(value, indent=3, ensure_ascii=True).encode()
    assert canonical_bytes(parse_canonical(loose)) == canonical_bytes(value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"x": 1.0}, "floats have no canonical encoding"),
        ({"x": float("nan")}, "floats"),
        ([MAX_SAFE_INT + 1], "too large for a JSON number"),
        ({"x": -(2**200)}, "too large for a JSON number"),
        ({1: "x"}, "is not a string"),
        ({"x": b"bytes"}, "bytes has no canonical encoding"),
        ({"x": {1, 2}}, "set has no canonical encoding"),
        ({"x": "\ud800"}, "lone surrogate"),
        ({"\udfff": 1}, "lone surrogate"),
    ],
)
def test_refused_values(value: Any, problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        canonical_bytes(value)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (b'{"x": 1.5}', "floats are not allowed"),
        (b'{"x": 1e3}', "floats are not allowed"),
        (b'{"x": NaN}', "NaN is not allowed"),
        (b'{"x": Infinity}', "Infinity is not allowed"),
        (b'{"a": {"x": 1, "x": 2}}', "duplicate key"),
        (b'{"x": 9007199254740992}', "too large for a JSON number"),
        (b"[-9007199254740992]", "too large for a JSON number"),
        (b'{"x": 1', "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_refused_documents(document: bytes, problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        parse_canonical(document, "ballot")


def test_lone_surrogates_are_refused_where_they_are() -> None:
    with pytest.raises(FormatError, match=r"^ballot\.x\[1\]: string with a lone surrogate"):
        parse_canonical(b'{"x": ["a", "\\ud800"]}', "ballot")
    with pytest.raises(FormatError, match=r"^ballot\.x: an object key with a lone surrogate"):
        parse_canonical(b'{"x": {"\\udfff": 1}}', "ballot")
    # a pair is one character; an escaped backslash before "ud800" is no escape at all
    assert parse_canonical(b'{"x": "\\ud83d\\ude00"}') == {"x": "\U0001f600"}
    assert parse_canonical(b'{"x": "\\\\ud800"}') == {"x": "\\ud800"}
    parsed = {"x": "\ud800"}  # made in Python, not parsed: refused when encoded
    with pytest.raises(FormatError, match=r"\$\.x: string with a lone surrogate"):
        canonical_bytes(parsed)


# A path into a document: object keys and array positions.
paths = st.lists(st.one_of(texts, st.integers(0, 3)), min_size=0, max_size=5)


def placed(path: list[str | int], leaf: str) -> tuple[str, str]:
    """JSON text holding `leaf` (JSON text) at `path`, and the path as errors name it."""
    text, name = leaf, ""
    for step in reversed(path):
        if isinstance(step, int):
            text = "[" + "0," * step + text + "]"
        else:
            text = "{" + json.dumps(step) + ":" + text + "}"
    for step in path:
        name += f"[{step}]" if isinstance(step, int) else f".{step}"
    return text, name


@given(paths, st.integers(17, 6000), st.booleans())
def test_oversized_integers_are_named_by_their_field(
    path: list[str | int], digits: int, negative: bool
) -> None:
    number = ("-" if negative else "") + "9" * digits
    text, name = placed(path, number)
    with pytest.raises(FormatError) as refused:
        parse_canonical(text.encode(), "doc")
    assert str(refused.value).startswith(f"doc{name}: integer of {digits} digits"), refused.value


@given(st.integers(0, 2**4096))
def test_hex_int_round_trip(value: int) -> None:
    text = hex_int(value)
    assert text == text.lower() and (text == "0" or not text.startswith("0"))
    assert parse_hex_int(text, "x") == value


@pytest.mark.parametrize("text", ["", "0x1f", "1F", "01", "00", "-1", " 1", "1 ", "1\n", "g", 1])
def test_non_canonical_hex_refused(text: Any) -> None:
    with pytest.raises(FormatError, match="field: expected a lower-case hex"):
        parse_hex_int(text, "field")


def test_negative_hex_int_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        hex_int(-1)


@given(st.binary(max_size=80))
def test_b64url_round_trip(data: bytes) -> None:
    text = b64url(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert parse_b64url(text, "x") == data


@pytest.mark.parametrize("text", ["-_9", "+/8", "-_8=", "A", "AB\n", "AB C", None])
def test_non_canonical_b64url_refused(text: Any) -> None:
    with pytest.raises(FormatError, match="field: "):
        parse_b64url(text, "field")


@given(values)
def test_domain_separation(value: Any) -> None:
    hashes = {domain_hash(tag, value) for tag in DOMAINS.values()}
    assert len(hashes) == len(DOMAINS)
    assert object_hash(value) not in hashes
    tag = DOMAINS["membership_proof"]
    assert (
        domain_hash(tag, value)
        == hashlib.sha256(tag.encode() + b"\x00" + canonical_bytes(value)).digest()
    )


def test_domain_registry() -> None:
    assert len(set(DOMAINS.values())) == len(DOMAINS)
    assert all(tag.startswith("ivote/v1/") and "\x00" not in tag for tag in DOMAINS.values())
    with pytest.raises(ValueError, match="unregistered"):
        domain_hash("ivote/v1/not-registered", {})


def test_check_version() -> None:
    check_version({"version": 1}, "manifest")
    for bad, problem in [
        ({}, "missing"),
        ({"version": 2}, "unsupported"),
        ({"version": True}, "integer"),
    ]:
        with pytest.raises(FormatError, match=f"manifest.version: .*{problem}"):
            check_version(bad, "manifest")


# --------------------------------------------------------------------------------------------
# Known-answer vectors


def test_canonical_vectors() -> None:
    vectors = json.loads((VECTORS / "canonical.json").read_text())
    assert len(vectors["cases"]) >= 4
    for case in vectors["cases"]:
        data = canonical_bytes(case["value"])
        assert data.decode("utf-8") == case["canonical"], case["name"]
        assert data.hex() == case["canonical_hex"]
        assert hashlib.sha256(data).hexdigest() == case["sha256_hex"]
        assert parse_canonical(data) == case["value"]
    for refused in vectors["refused"]:
        with pytest.raises(FormatError):
            parse_canonical(refused["document"].encode())
    for entry in vectors["hex_int"]:
        assert hex_int(int(entry["decimal"])) == entry["hex"]
        assert parse_hex_int(entry["hex"], "x") == int(entry["decimal"])
    for text in vectors["non_canonical_hex"]:
        with pytest.raises(FormatError):
            parse_hex_int(text, "x")
    for entry in vectors["base64url"]:
        assert b64url(bytes.fromhex(entry["bytes_hex"])) == entry["base64url"]
        assert parse_b64url(entry["base64url"], "x").hex() == entry["bytes_hex"]
    for text in vectors["non_canonical_base64url"]:
        with pytest.raises(FormatError):
            parse_b64url(text, "x")


def test_hash_vectors() -> None:
    vectors = json.loads((VECTORS / "hashes.json").read_text())
    for case in vectors["object_hashes"]:
        assert object_hash(case["object"]).hex() == case["sha256_hex"]
    seen = set()
    for case in vectors["domain_hashes"]:
        assert case["domain"] in DOMAINS.values()
        hash_input = bytes.fromhex(case["hash_input_hex"])
        assert hash_input == case["domain"].encode() + b"\x00" + canonical_bytes(case["object"])
        assert hashlib.sha256(hash_input).hexdigest() == case["domain_hash_hex"]
        assert domain_hash(case["domain"], case["object"]).hex() == case["domain_hash_hex"]
        seen.add(case["domain_hash_hex"])
    assert len(seen) == len(vectors["domain_hashes"])  # same object, different domains
