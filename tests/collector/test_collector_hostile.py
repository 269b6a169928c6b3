"""The collector against traffic an attacker sends, over real HTTP to `ivote collector serve`
(SQLite and PostgreSQL): every request that is not a valid cast gets a 4xx with the spec's
JSON error body, never a 5xx, and the log holds no traceback."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest
from collector_helpers import NORTH, PASSPHRASE, Client, CollectorElection, Server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.collector_process import CollectorProcess

from canonical.encoding import canonical_bytes

JSON = {"content-type": "application/json"}


def error_of(response: httpx.Response, status: int) -> dict[str, str]:
    """The refusal's {"code", "message"}, after checking the status and the spec's form."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail"} and set(body["detail"]) == {"code", "message"}, body
    assert all(isinstance(v, str) and v for v in body["detail"].values())
    return body["detail"]


def assert_no_traceback(server: Server) -> None:
    text = server.log.read_text(errors="replace")
    assert "Traceback" not in text and " ERROR " not in text, text[-3000:]


def test_oversized_integers_and_unencodable_text_are_named(
    election: CollectorElection, client: Client, server: Server
) -> None:
    signed, _ = election.ballot(NORTH[0], client.challenge())
    huge = "9" * 5000
    body = canonical_bytes(signed).replace(b'"version":1', f'"version":{huge}'.encode(), 1)
    detail = error_of(client.cast(body), 400)
    assert detail["code"] == "malformed"
    assert "ballot.payload.version" in detail["message"] or "ballot.version" in detail["message"]
    assert "5000 digits" in detail["message"]
    nested = b'{"version":1,"payload":{"x":[1,' + b"1" * 20 + b'],"y":{}},"signature":{}}'
    detail = error_of(client.cast(nested), 400)
    assert "ballot.payload.x[1]" in detail["message"], detail
    # text that has no UTF-8 encoding, or is long, is refused without being echoed
    for body in [
        b'{"version":1,"payload":{},"signature":{},"\\udfff":1}',
        b'{"version":1,"payload":{},"signature":{"\\ud800":1}}',
        b'{"version":1,"payload":{"election_id":"\\udc00"},"signature":{}}',
        b'{"version":1,"payload":{},"signature":{},"' + "ก".encode() * 5_000 + b'":1}',
    ]:
        detail = error_of(client.cast(body), 400)
        assert detail["code"] == "malformed"
        assert len(detail["message"]) < 1000
    assert_no_traceback(server)


def test_paths_queries_and_methods_refused_in_the_error_form(
    client: Client, server: Server
) -> None:
    for path, params in [
        ("/v1/log/heads/9223372036854775808", {}),
        ("/v1/log/heads/99999999999999999999999999", {}),
        ("/v1/log/heads/-1", {}),
        ("/v1/log/inclusion", {"size": 2**63, "index": 0}),
        ("/v1/log/inclusion", {"size": 1, "index": 2**64}),
        ("/v1/log/consistency", {"old": 0, "new": 2**63}),
        ("/v1/log/leaves", {"start": 2**70, "end": 2**70}),
    ]:
        assert error_of(client.get(path, **params), 400)["code"] == "bad_request", path
    assert error_of(client.get("/v1/log/heads/9007199254740991"), 404)["code"] == "not_found"
    # unknown routes and methods: the same form
    detail = error_of(client.get("/nowhere"), 404)
    assert detail["code"] == "not_found" and "/nowhere" in detail["message"]
    response = client.http.delete("/v1/ballots")
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert response.headers["allow"] == "POST"
    assert error_of(client.http.get("/v1/challenges"), 405)["code"] == "method_not_allowed"
    assert error_of(client.get("/v1/log/head/"), 404)["code"] == "not_found"
    assert_no_traceback(server)


def test_a_ballot_not_sent_as_json_is_refused(election: CollectorElection, client: Client) -> None:
    signed, _ = election.ballot(NORTH[1], client.challenge())
    for content_type in [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        "application/jsonx",
    ]:
        headers = {} if content_type is None else {"content-type": content_type}
        body = canonical_bytes(signed)
        response = client.http.post("/v1/ballots", content=body, headers=headers)
        assert error_of(response, 415)["code"] == "unsupported_media_type", content_type
    # the same bytes as JSON are taken
    accepted = client.http.post(
        "/v1/ballots",
        content=canonical_bytes(signed),
        headers={"content-type": "Application/JSON; charset=UTF-8"},
    )
    assert accepted.status_code == 200, accepted.text


def test_a_client_gone_mid_body_is_one_warning(client: Client, server: Server) -> None:
    host, port = "127.0.0.1", server.port
    for _ in range(20):
        with socket.create_connection((host, port)) as sock:
            sock.sendall(
                b"POST /v1/ballots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 5000\r\n\r\n" + b'{"version":1,' * 10
            )
    time.sleep(1)  # the server notices each disconnect
    assert client.get("/v1/health").status_code == 200
    text = server.log.read_text(errors="replace")
    assert text.count("the client left before its request was complete") == 20, text[-3000:]
    assert_no_traceback(server)


# Any JSON at all, and envelopes shaped like a ballot with arbitrary parts.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def envelopes(draw: st.DrawFn) -> Any:
    return {
        "version": draw(st.sampled_from([1, 2, "1", None])),
        "payload": draw(json_values),
        "signature": draw(
            st.fixed_dictionaries(
                {},
                optional={"certificate": json_values, "value": json_values, "domain": json_values},
            )
        ),
    }


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=json_values | envelopes(), raw=st.binary(max_size=40), use_raw=st.booleans())
def test_arbitrary_bodies_get_a_4xx_in_the_error_form(
    client: Client, document: Any, raw: bytes, use_raw: bool
) -> None:
    body = raw if use_raw else json.dumps(document).encode()
    response = client.http.post("/v1/ballots", content=body, headers=JSON)
    assert 400 <= response.status_code < 500, response.text
    detail = error_of(response, response.status_code)
    assert detail["code"] in {"malformed", "wrong_election"}, detail


def test_a_request_http_cannot_parse_gets_the_error_form(server: Server) -> None:
    """uvicorn answers what httptools cannot parse in text/plain; the collector in its form."""
    for request in [
        b"GET /v1/hea lth HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Null: a\x00b\r\n\r\n",
        b"POST /v1/ballots HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    ]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(4096):  # the connection is closed after the answer
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 "), answer
        assert b"\r\ncontent-type: application/json\r\n" in head.lower(), answer
        assert json.loads(body)["detail"]["code"] == "bad_request", answer
    assert_no_traceback(server)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_database_out_of_reach_is_503_then_recovers(
    election: CollectorElection, db_url: str
) -> None:
    import sqlalchemy as sa

    url = sa.make_url(db_url)
    name = url.database
    # with the rate limits on: their counts live in the same database
    server = CollectorProcess(
        election.directory, db_url, PASSPHRASE, workers=1, options=()
    ).start()
    client = Client(server.url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def connections(allowed: bool) -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {allowed}'))
            if not allowed:
                connection.execute(
                    sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :name"),
                    {"name": name},
                )  # fmt: skip

    try:
        assert client.get("/v1/health").status_code == 200
        connections(allowed=False)
        for response in (client.get("/v1/health"), client.http.post("/v1/challenges")):
            assert error_of(response, 503)["code"] == "unavailable"
        connections(allowed=True)
        assert client.get("/v1/health").status_code == 200
        assert client.http.post("/v1/challenges").status_code == 200
    finally:
        connections(allowed=True)
        admin.dispose()
        client.close()
        server.stop()
    text = server.log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert text.count("rate limits not counted") == 1  # said once, not per request
