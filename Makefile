PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
#: The demo gate's port: make demo PORT=8080
PORT   ?= 8000

.PHONY: demo test lint typecheck pytest bench screenshots messages clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pwless-gate demo --port $(PORT)

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	bash bench/run

#: The shipped catalogs, as gettext locales (pwless_gate/languages.py lists the tags).
LOCALES := de fr es it nl pt_BR pl sv ja ar
CATALOGS := pwless_gate/i18n

# Extract every page text into the template, merge it into each catalog (new entries are
# empty or fuzzy: translate them), and compile the .mo files that ship in the wheel.
# tests/test_catalogs.py fails until every entry is translated and compiled.
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k N_ -k Text --sort-by-file --add-location=file \
		--project=pwless-gate --copyright-holder="pwless-gate contributors" \
		-o $(CATALOGS)/pwless_gate.pot .
	for locale in $(LOCALES); do \
		if [ -f $(CATALOGS)/$$locale/LC_MESSAGES/pwless_gate.po ]; then \
			$(BIN)/pybabel -q update -D pwless_gate -i $(CATALOGS)/pwless_gate.pot -d $(CATALOGS) -l $$locale --ignore-obsolete; \
		else \
			$(BIN)/pybabel -q init -D pwless_gate -i $(CATALOGS)/pwless_gate.pot -d $(CATALOGS) -l $$locale; \
		fi; \
	done
	$(BIN)/pybabel compile -D pwless_gate -d $(CATALOGS) --statistics

screenshots: $(STAMP)
	SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest tests/browser -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
