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
        assert [d["id"] for d in confirmed["districts"]] == ["north", "south"]
        assert VoterStore(tmp_path).pin_for(collector.url).fingerprint == election.fingerprint
        # steps out of order are refused with a message, not an error page
        early = client.post("/api/cast", json={}, headers=headers)
        assert early.status_code == 400 and "Prepare a ballot first" in early.json()["message"]
        assert client.post("/api/election", json={}).status_code == 403  # no token
