# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export PORTAL_ENV ?= dev

.PHONY: run test install translations reset

$(BIN)/portal: pyproject.toml
	scripts/bootstrap-python $(PYTHON) $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/portal translations
	@# WeasyPrint (notice letters) draws text with Pango and HarfBuzz, in the DejaVu fonts.
	scripts/apt-install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
	@# The proof chain of notices is signed with GnuPG (python-gnupg drives the gpg program).
	scripts/apt-install gpg gpg-agent

translations: $(BIN)/portal
	$(BIN)/pybabel compile --use-fuzzy -d portal/translations -D messages >/dev/null

run: install
	$(BIN)/portal db upgrade
	$(BIN)/portal demo-seed --url http://$(HOST):$(PORT)
	scripts/run-demo $(BIN) $(HOST) $(PORT)

test: install
	scripts/test-services
	PORTAL_ENV=test scripts/run-tests $(BIN) $(PG_TEST_URL)

reset:
	rm -rf instance
