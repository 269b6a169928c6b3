"""Headless Chromium for the page tests (the voting page, the check page, the results report):
one launch, one accessibility check, one screenshot rule.

The browser tests skip locally when Debian's Chromium or the test extra is missing, and fail in
CI (CI=true). Screenshots are written only when IVOTE_SCREENSHOTS names a directory
(`make screenshots`), so an ordinary run never changes the tracked docs/screenshots.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# WCAG 2.1 A and AA: the level the issue asks for
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCREENSHOTS = os.environ.get("IVOTE_SCREENSHOTS")


def launch_chromium() -> Iterator[Any]:
    """A headless Chromium (a module fixture yields from this), or skip / fail saying why."""
    problem = None
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        problem = f"{CHROMIUM} is not installed (Debian package chromium; `make system-deps`)"
    try:
        from axe_playwright_python.sync_playwright import Axe  # noqa: F401
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright or axe-playwright-python is not installed (test extra)"
    if problem:
        if IN_CI:
            pytest.fail(f"{problem}: the browser tests must run in CI")
        pytest.skip(problem)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def assert_accessible(page: Any, state: str, tags: list[str] | None = None) -> None:
    """axe-core finds no violation on the page as it is now (every rule, or only `tags`)."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"resultTypes": ["violations"]}
    if tags:
        options["runOnly"] = {"type": "tag", "values": tags}  # type: ignore[assignment]
    results = Axe().run(page, options=options)
    assert results.violations_count == 0, f"{state}:\n{results.generate_report()}"


def screenshot(page: Any, name: str, full_page: bool = True) -> None:
    """docs/screenshots material, only when IVOTE_SCREENSHOTS names a directory."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=full_page)
