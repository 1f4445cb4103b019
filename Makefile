# optin-toolkit: `make demo` serves the demo, `make test` runs the whole suite.
# Every target installs what it needs into .venv first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCALES := toolkit/locales
POT    := $(LOCALES)/messages.pot

# make demo PORT=8000
PORT ?= 5000

.PHONY: test sysdeps demo-deps e2e-deps install catalogs extract update-catalogs i18n-check lint typecheck pytest bench demo clean

# Debian packages: what the toolkit needs to make PDFs (WeasyPrint's Pango and HarfBuzz, the
# fonts the packs use: DejaVu for Latin, Greek and Cyrillic, Noto for Arabic and Chinese),
# which `make demo` installs too; and what only the tests need:
# pdftoppm (poppler-utils) to look at a rendered page, PostgreSQL (the ledger tests start their
# own server from its binaries on a loopback port, and stop it), chromium for the browser tests.
RUNTIME_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-noto-core fonts-noto-cjk
DEB_PACKAGES := $(RUNTIME_PACKAGES) poppler-utils postgresql chromium

## Install the Debian packages of $(1) where missing (as root with apt-get, as in CI);
## elsewhere stop and print the one command that installs them, on one line.
define install_packages
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || printf '%s ' $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "Missing Debian packages: $$missing"; \
	  echo "Install them with: sudo apt-get install -y $$missing"; exit 1; \
	fi
endef

sysdeps:
	$(call install_packages,$(DEB_PACKAGES))

demo-deps:
	$(call install_packages,$(RUNTIME_PACKAGES))

## axe-core, the accessibility checker tests/e2e/test_a11y.py loads into each page: the version
## pinned in tests/e2e/package-lock.json, installed with npm (Debian's npm where it is missing).
E2E_MODULES := tests/e2e/node_modules/.installed
$(E2E_MODULES): tests/e2e/package.json tests/e2e/package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian packages: npm"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null; \
	  else \
	    echo "Missing: npm (to install axe-core for the accessibility test)"; \
	    echo "Install it with: sudo apt-get install -y npm"; exit 1; \
	  fi; }
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	@touch $@

e2e-deps: $(E2E_MODULES)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed; found: $$($(PYTHON) --version 2>&1)."; \
	    echo "Install it (Debian: apt-get install python3 python3-venv) or run: make PYTHON=python3.11 test"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml hatch_build.py | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

## Compile every .po catalog to .mo (build products, never committed).
catalogs: install
	$(BIN)/pybabel -q compile -d $(LOCALES) -D messages

## Extract the translatable strings of toolkit/ and templates/ into the .pot template.
extract: install
	$(BIN)/pybabel -q extract -F babel.cfg -o $(POT) --add-comments=Translators: \
	  --sort-by-file --project=optin-toolkit --copyright-holder="optin-toolkit authors" \
	  --no-wrap .

## Merge the .pot into every locale's .po (new strings arrive untranslated, never fuzzy-guessed).
update-catalogs: extract
	$(BIN)/pybabel -q update -i $(POT) -d $(LOCALES) -D messages --no-fuzzy-matching --ignore-obsolete --no-wrap
	@# drafts of languages not shipped yet, when there are any
	if ls i18n/drafts/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
	  $(BIN)/pybabel -q update -i $(POT) -d i18n/drafts -D messages --no-fuzzy-matching --ignore-obsolete --no-wrap; fi

## Every shipped catalog complete, its placeholders those of the source, every string extracted.
i18n-check: catalogs
	$(BIN)/optin i18n check

lint: install
	$(BIN)/ruff check toolkit demo tests benchmarks hatch_build.py
	$(BIN)/ruff format --check toolkit demo tests benchmarks hatch_build.py

typecheck: install
	$(BIN)/mypy --strict toolkit

pytest: catalogs sysdeps e2e-deps
	$(BIN)/pytest -q

test: sysdeps catalogs i18n-check lint typecheck pytest

bench: catalogs sysdeps
	$(BIN)/python benchmarks/bench_render.py
	$(BIN)/python benchmarks/bench_sms.py
	$(BIN)/python benchmarks/bench_pdf.py
	$(BIN)/python benchmarks/bench_ledger.py
	$(BIN)/python benchmarks/bench_decision.py
	$(BIN)/python benchmarks/bench_capture.py
	$(BIN)/python benchmarks/bench_postgres.py

## Serve the demo on http://127.0.0.1:5000 with gunicorn (one worker process per core, 4 threads
## each; see demo/gunicorn.conf.py), SQLite ledger in instance/optin.db; the admin token is
## printed at start unless OPTIN_ADMIN_TOKEN is set.
demo: catalogs demo-deps  # local development: unsigned SMS webhooks allowed (curl, the tests')
	OPTIN_WEBHOOK_UNSIGNED=1 OPTIN_PORT=$(PORT) $(BIN)/gunicorn -c demo/gunicorn.conf.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache tests/e2e/node_modules
	find $(LOCALES) -name '*.mo' -delete
