"""The check code, choices, retries and the local store, without a collector."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.errors import SealError
from formats.manifest import Candidate, Contest
from i18n import language
from voter_app.code import CheckCode, CodeError, checksum
from voter_app.qr import BORDER, qr_matrix
from voter_app.store import Pin, VoterStore
from voter_app.transport import (
    CollectorClient,
    CollectorRefused,
    CollectorUnreachable,
    RetryPolicy,
    VoterAppError,
)
from voter_app.voting import describe, refusal_message, resolve_choice

seeds = st.binary(min_size=16, max_size=16)
prefixes = st.binary(min_size=7, max_size=7)
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@given(seeds, prefixes)
def test_check_code_round_trips(seed: bytes, prefix: bytes) -> None:
    code = CheckCode(seed, prefix)
    assert len(code.text) == 42 and set(code.text) <= set(BASE32)  # QR alphanumeric mode
    assert CheckCode.parse(code.text) == code
    assert CheckCode.parse(code.grouped.lower()) == code  # as typed: spaces, lower case
    assert CheckCode.parse("-".join(code.groups)) == code
    assert code.grouped.split(" ") == list(code.groups)
    assert [len(g) for g in code.groups] == [6] * 7
    assert code.matches(prefix + bytes(25))
    assert code.matches(bytes(32)) == (prefix == bytes(7))


@given(seeds, prefixes, st.data())
def test_every_changed_character_is_refused(
    seed: bytes, prefix: bytes, data: st.DataObject
) -> None:
    """CRC-16 catches every burst of up to 16 bits: any one character (5 bits) changed."""
    text = CheckCode(seed, prefix).text
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.sampled_from(BASE32).filter(lambda c: c != text[position]))
    typo = text[:position] + replacement + text[position + 1 :]
    with pytest.raises(CodeError) as refused:
        CheckCode.parse(typo)
    assert refused.value.reason == "checksum"


@given(seeds, prefixes, st.data())
def test_every_swap_of_neighbours_is_refused(
    seed: bytes, prefix: bytes, data: st.DataObject
) -> None:
    text = CheckCode(seed, prefix).text
    i = data.draw(st.integers(0, len(text) - 2))
    if text[i] == text[i + 1]:
        return
    swapped = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    with pytest.raises(CodeError):
        CheckCode.parse(swapped)


def test_check_code_errors_say_why() -> None:
    code = CheckCode(bytes(range(16)), bytes(range(7))).text
    cases = {
        "  ": ("empty", "empty"),
        code[:-1] + "1": ("characters", "A-Z"),
        code[:-3]: ("length", "too short"),
        code + "AA": ("length", "too long"),
        code[:-1] + ("B" if code[-1] == "A" else "A"): ("checksum", "typing mistake"),
    }
    for text, (reason, words) in cases.items():
        with pytest.raises(CodeError, match=words) as refused:
            CheckCode.parse(text)
        assert refused.value.reason == reason
    # another version with a valid checksum
    body = bytes([2]) + bytes(23)
    other = base64.b32encode(body + checksum(body)).decode().rstrip("=")
    with pytest.raises(CodeError, match="version 2") as refused:
        CheckCode.parse(other)
    assert refused.value.reason == "version"


def test_the_check_code_is_a_qr_code_of_version_2() -> None:
    import qrcode
    import qrcode.constants

    code = CheckCode(b"\xff" * 16, b"\xff" * 7)
    made = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    made.add_data(code.text)
    made.make(fit=True)
    assert made.version <= 4
    assert made.version == 2  # 42 alphanumeric characters at level M (it holds 61)
    assert len(qr_matrix(code.text)) == 25 + 2 * BORDER


CONTEST = Contest(
    "council",
    "City council",
    (Candidate(101, "Mari Maasikas", "Green"), Candidate(102, "Mart Tamm"), Candidate(7, "Ott")),
)


def test_resolve_choice() -> None:
    assert resolve_choice(CONTEST, "101") == 101
    assert resolve_choice(CONTEST, "mari maasikas") == 101
    assert resolve_choice(CONTEST, "Ott") == 7
    with pytest.raises(VoterAppError, match="several choices"):
        resolve_choice(CONTEST, "Ma")
    with pytest.raises(VoterAppError, match="no candidate number 5"):
        resolve_choice(CONTEST, "5")
    with pytest.raises(VoterAppError, match="no candidate 'Nobody'"):
        resolve_choice(CONTEST, "Nobody")


PARTY_LIST = Contest(
    "party-list",
    {"en": "Party list", "th": "แบบบัญชีรายชื่อ"},
    (
        Candidate(1, {"en": "Rice Farmers Party", "th": "พรรคชาวนาไทย"}),
        Candidate(2, {"en": "Future Thailand Party", "th": "พรรคอนาคตไทย"}),
        Candidate(3, {"en": "Mekong Party", "th": "พรรคแม่โขง"}),
    ),
    vote_no=True,
)
REFERENDUM = Contest(
    "referendum",
    {"en": "Referendum", "th": "การออกเสียงประชามติ"},
    (
        Candidate(1, {"en": "Agree", "th": "เห็นชอบ"}),
        Candidate(2, {"en": "Disagree", "th": "ไม่เห็นชอบ"}),
        Candidate(3, {"en": "No opinion", "th": "ไม่แสดงความคิดเห็น"}),
    ),
    question={"en": "A new constitution?", "th": "รัฐธรรมนูญฉบับใหม่?"},
)


@pytest.mark.parametrize("lang", ["en", "th"])
def test_resolve_choice_by_name_in_either_language_and_vote_no(lang: str) -> None:
    """Whatever the voter's language, a name in either language and every form of "vote
    no" (0, no, its label in English or Thai) are understood."""
    with language(lang):
        assert resolve_choice(PARTY_LIST, "2") == 2
        assert resolve_choice(PARTY_LIST, "พรรคอนาคตไทย") == 2
        assert resolve_choice(PARTY_LIST, "future thailand party") == 2
        assert resolve_choice(PARTY_LIST, "พรรคแม่") == 3  # a unique prefix
        assert resolve_choice(PARTY_LIST, "Mekong") == 3
        for vote_no in ("0", "no", " NO ", "Vote no", "vote  NO", "ไม่ประสงค์ลงคะแนน"):
            assert resolve_choice(PARTY_LIST, vote_no) == 0, vote_no
        assert resolve_choice(REFERENDUM, "ไม่เห็นชอบ") == 2  # not "ไม่แสดงความคิดเห็น"
        assert resolve_choice(REFERENDUM, "No opinion") == 3
        assert resolve_choice(REFERENDUM, "เห็นชอบ") == 1


@pytest.mark.parametrize("typed", ["0", "no", "Vote no", "ไม่ประสงค์ลงคะแนน"])
def test_vote_no_is_refused_where_the_contest_has_no_box(typed: str) -> None:
    with pytest.raises(VoterAppError) as refused:
        resolve_choice(REFERENDUM, typed)
    assert str(refused.value) == 'Referendum has no "vote no" box: choose one of its 3 choices'
    with language("th"), pytest.raises(VoterAppError) as refused:
        resolve_choice(CONTEST, typed)
    assert "City council" in str(refused.value) and "ไม่ประสงค์ลงคะแนน" in str(refused.value)


def test_resolve_choice_refusals_name_the_contest() -> None:
    with language("th"):
        for typed, problem in (("9", "ไม่มีผู้สมัครหมายเลข 9"), ("", "ยังไม่ได้เลือก")):
            with pytest.raises(VoterAppError) as refused:
                resolve_choice(PARTY_LIST, typed)
            assert str(refused.value).startswith("แบบบัญชีรายชื่อ") and problem in str(
                refused.value
            )
        with pytest.raises(VoterAppError, match="ตรงกับหลายตัวเลือก"):
            resolve_choice(PARTY_LIST, "พรรค")


@given(st.sampled_from([*PARTY_LIST.options, *REFERENDUM.options]), st.sampled_from(["en", "th"]))
def test_every_choice_resolves_from_its_described_name(option: Candidate, lang: str) -> None:
    contest = PARTY_LIST if option in PARTY_LIST.options else REFERENDUM
    with language(lang):
        shown = describe(contest, option.number)
        # what the summary shows is what the voter may type back
        typed = shown if option.is_vote_no else shown.split(" ", 1)[1]
        assert resolve_choice(contest, typed) == option.number
        assert resolve_choice(contest, str(option.number)) == option.number


def test_describe_says_vote_no_in_the_current_language() -> None:
    assert describe(PARTY_LIST, 0) == "Vote no"
    assert describe(CONTEST, 101) == "101 Mari Maasikas (Green)"
    with language("th"):
        assert describe(PARTY_LIST, 0) == "ไม่ประสงค์ลงคะแนน"
        assert describe(PARTY_LIST, 1) == "1 พรรคชาวนาไทย"
        assert describe(REFERENDUM, 3) == "3 ไม่แสดงความคิดเห็น"


def _client(handler, attempts: int = 4) -> tuple[CollectorClient, list[float]]:  # type: ignore[no-untyped-def]
    waits: list[float] = []
    client = CollectorClient(
        "http://collector.test", RetryPolicy(attempts=attempts), sleep=waits.append
    )
    client._http = httpx.Client(base_url=client.base_url, transport=httpx.MockTransport(handler))
    return client, waits


def test_transient_failures_are_retried_with_the_same_bytes() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if len(bodies) == 1:
            raise httpx.ConnectError("refused")
        if len(bodies) == 2:
            return httpx.Response(503)
        return httpx.Response(200, content=b'{"ok":true}')

    client, waits = _client(handler)
    assert client.post("/v1/ballots", {"version": 1, "x": "y"}) == {"ok": True}
    assert len(bodies) == 3 and len(set(bodies)) == 1
    assert len(waits) == 2 and waits[0] <= waits[1] * 2  # backoff grows


def test_retry_after_is_honoured_or_reported() -> None:
    answers = iter([15, 0])

    def handler(request: httpx.Request) -> httpx.Response:
        wait = next(answers, 0)
        if wait:
            body = {"detail": {"code": "rate_limited", "message": "slow down"}}
            return httpx.Response(429, json=body, headers={"retry-after": str(wait)})
        return httpx.Response(200, content=b'{"ok":true}')

    client, waits = _client(handler)
    assert client.post("/v1/challenges") == {"ok": True}
    assert waits and waits[0] >= 15  # the collector's wait, not the short backoff

    def too_long(request: httpx.Request) -> httpx.Response:
        body = {"detail": {"code": "rate_limited", "message": "slow down"}}
        return httpx.Response(429, json=body, headers={"retry-after": "600"})

    client, waits = _client(too_long)
    with pytest.raises(CollectorRefused) as refused:
        client.post("/v1/challenges")
    assert refused.value.code == "rate_limited" and waits == []
    assert "wait a few minutes" in refusal_message(refused.value)


def test_refusals_are_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            403, json={"detail": {"code": "certificate_revoked", "message": "revoked"}}
        )

    client, _ = _client(handler)
    with pytest.raises(CollectorRefused) as refused:
        client.get("/v1/manifest")
    assert refused.value.code == "certificate_revoked" and len(calls) == 1


def test_unreachable_after_every_attempt() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out")

    client, waits = _client(handler, attempts=3)
    with pytest.raises(CollectorUnreachable, match="after 3 attempts"):
        client.get("/v1/manifest")
    assert len(waits) == 2


def test_store_seals_records_and_keeps_pins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVOTE_SEAL_COST", "1024")
    store = VoterStore(tmp_path)
    path = store.save_record(b"\x01" * 32, {"status": "sent", "district": "north"}, "1234")
    assert path.stat().st_mode & 0o777 == 0o600
    assert b"north" not in path.read_bytes()  # sealed, not readable
    assert store.load_record(path, "1234")["district"] == "north"
    with pytest.raises(SealError):
        store.load_record(path, "9999")
    assert store.pin_for("http://c") is None
    store.save_pin("http://c", Pin("ab" * 32, "cd" * 32))
    assert VoterStore(tmp_path).pin_for("http://c") == Pin("ab" * 32, "cd" * 32)
