"""The page's API in process (the browser test drives the same API through Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from voter_helpers import CollectorProcess, VoterElection

from voter_app.store import VoterStore
from voter_app.web import TOKEN_HEADER, create_app


def test_first_contact_shows_the_fingerprint_to_confirm(
    collector: CollectorProcess, election: VoterElection, tmp_path: Path
) -> None:
    app = create_app(
        collector.url, None, tmp_path, allowed_hosts=("testserver",), allow_test_key=True
    )
    with TestClient(app) as client:
        page = client.get("/").text
        token = re.search(r'name="ivote-token" content="([^"]+)"', page).group(1)
        headers = {TOKEN_HEADER: token}
        first = client.post("/api/election", json={}, headers=headers).json()
        assert first["needs_confirmation"] is True
        assert first["fingerprint"] == election.manifest.fingerprint_groups
        assert VoterStore(tmp_path).pin_for(collector.url) is None
        confirmed = client.post("/api/election", json={"confirm": True}, headers=headers).json()
        assert confirmed["needs_confirmation"] is False
        assert confirmed["fingerprint"] == election.manifest.fingerprint_groups
        assert confirmed["organiser"] == "ivote organiser, ivote election officials"
        assert confirmed["refusal"] is None and confirmed["eid"] is None  # open; no e-ID yet
        assert VoterStore(tmp_path).pin_for(collector.url).fingerprint == election.fingerprint
        # steps out of order are refused with a message, not an error page
        early = client.post("/api/cast", json={}, headers=headers)
        assert early.status_code == 400 and early.json()["message"] == "Encrypt a ballot first."
        # the page's language: the same refusal in Thai
        thai = client.post("/api/cast", json={}, headers={**headers, "x-ivote-lang": "th"})
        assert thai.json()["message"] == "กรุณาเข้ารหัสบัตรเลือกตั้งก่อน"
        assert client.post("/api/election", json={}).status_code == 403  # no token
