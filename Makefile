# make demo   run a scripted admin session on a private, throwaway PostgreSQL
# make test   run the whole test suite (private PostgreSQL, Postfix, Dovecot)
# make bench  run the benchmarks (not part of the tests)
#
# Each target installs what it needs: Debian packages with apt-get (as root)
# and Python packages into the virtualenv .venv of this checkout.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test demo bench system venv catalogs

system:
	@sh tests/install-system-packages.sh

# pip and setuptools talk a lot (the editable-install banner, deprecation
# notices): their output is kept in .venv/install.log and shown only when
# the installation fails.
$(BIN)/vmm: setup.py pyproject.toml $(wildcard po/*.po)
	@test -x $(BIN)/python || { echo "creating the virtualenv $(VENV)"; \
	    $(PYTHON) -m venv $(VENV); }
	@echo "installing vmm and its Python packages into $(VENV) (pip install -e '.[test]')"
	@$(BIN)/python -m pip install --quiet --upgrade pip > $(VENV)/install.log 2>&1 \
	    && $(BIN)/python -m pip install --quiet -e '.[test]' >> $(VENV)/install.log 2>&1 \
	    || { cat $(VENV)/install.log; exit 1; }
	@touch $@

venv: system $(BIN)/vmm

# Lint first (ruff, configured in pyproject.toml): it takes a second.
test: venv
	$(BIN)/ruff check vmm tests setup.py
	$(BIN)/python -m pytest -p no:cacheprovider tests

demo: venv
	$(BIN)/python tests/demo.py

bench: venv
	$(BIN)/python tests/bench.py

# Re-extract po/vmm.pot from the code (and argparse's own messages, which
# vmm translates too) and merge it into every catalog.
catalogs: venv
	$(BIN)/pybabel extract --no-location --sort-output --project=vmm \
	    -k _ -k ngettext:1,2 -o po/vmm.pot vmm \
	    $$($(BIN)/python -c 'import argparse; print(argparse.__file__)')
	for po in po/*.po; do \
	    $(BIN)/pybabel update --no-fuzzy-matching -i po/vmm.pot -o $$po \
	        -l $$(basename $$po .po); \
	done
