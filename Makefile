# The two commands README.md opens with: `make demo` and `make test`.
# Both create .venv on first use; nothing depends on what was installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint catalogs system-deps screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# Debian packages the e-ID token tests (SoftHSM2) and the browser test (Chromium) need.
# Installed when missing and we may install; otherwise those tests say why they skip (and fail in CI).
system-deps:
	@./.ci/system-deps

demo: $(STAMP)
	$(BIN)/ivote demo

# bring the translation catalogs (i18n/catalogs) in step with the texts marked in the source
catalogs: $(STAMP)
	$(BIN)/python -m i18n.update

lint: $(STAMP)
	$(BIN)/ruff check .

# the pages' screenshots in docs/screenshots (voting page, check page, results report), taken by
# their Chromium tests
screenshots: $(STAMP) system-deps
	IVOTE_SCREENSHOTS=docs/screenshots CI=true $(BIN)/python -m pytest -q \
		tests/voter_app/test_vote_page.py tests/voter_app/test_check_page.py \
		tests/voter_app/test_marks_page.py \
		tests/tallier/test_results_page.py

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
