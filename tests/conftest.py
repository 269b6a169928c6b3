"""Shared fixtures: small fixed keys, database URLs for SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

FIXTURES = Path(__file__).parent / "fixtures"
VECTORS = Path(__file__).parent / "vectors"
POSTGRES_ADMIN_URL = os.environ.get(
    "IVOTE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Crypto properties run on small keys; keep example counts modest so the suite stays fast.
settings.register_profile(
    "ivote", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ivote")


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="session")
def safe_primes() -> dict:
    """Safe primes made once (tests/fixtures/safe_primes.json): {bits_of_n: [p, q]}."""
    raw = load_fixture("safe_primes.json")
    return {int(bits): (int(pq["p"], 16), int(pq["q"], 16)) for bits, pq in raw.items()}


def _postgres_available() -> str | None:
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(POSTGRES_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to reach the server is a reason to skip locally
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} is unavailable: {exc.__class__.__name__}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend: a SQLite file, or a new PostgreSQL schema-less
    database created for the test and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ivote.sqlite'}"
        return
    problem = _postgres_available()
    if problem:
        if IN_CI:
            pytest.fail(f"{problem} (PostgreSQL tests must not skip in CI)")
        pytest.skip(problem)
    import sqlalchemy

    name = f"ivote_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium for a module's page tests (support.browser)."""
    from support.browser import launch_chromium

    yield from launch_chromium()


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Each test starts in English: a test that ran `ivote --lang th ...` in this process
    must not leave the next one speaking Thai."""
    import i18n

    i18n.set_language("en")
    yield
