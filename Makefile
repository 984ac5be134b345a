# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

# The install is editable in setuptools' strict mode: build/__editable__.arconnect-*/arconnect/
# holds a link to each file of the package (connector/ as `arconnect`, adapters/ as
# `arconnect.adapters`...), a tree mypy and IDEs read like any installed package. Edits show
# through the links; a file added, removed or renamed (a module, a package folder, a preset)
# needs a reinstall. PACKAGE_FILES lists the package's files and is rewritten only when that
# list changes, so the stamp depends on it. The folders are pyproject.toml's package-dir roots.
PACKAGE_DIRS := connector adapters mappings config sandbox
PACKAGE_FILES := $(VENV)/.package-files
$(shell mkdir -p $(VENV) && find $(PACKAGE_DIRS) -name __pycache__ -prune -o -type f \
	! -name '*.pyc' ! -name '.*' ! -name '*~' -print | LC_ALL=C sort > $(PACKAGE_FILES).new && \
	{ cmp -s $(PACKAGE_FILES).new $(PACKAGE_FILES) && rm -f $(PACKAGE_FILES).new || \
	mv -f $(PACKAGE_FILES).new $(PACKAGE_FILES); })

$(STAMP): pyproject.toml setup.py $(PACKAGE_FILES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' --config-settings editable_mode=strict
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/arconnect demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

# mypy checks the installed package (the strict editable install's tree; connector/py.typed
# marks it typed), so it sees the layout the code imports.
lint: $(STAMP)
	$(BIN)/ruff check connector adapters sandbox tests bench setup.py
	$(BIN)/mypy -p arconnect

bench: $(STAMP)
	$(BIN)/python bench/sync_xero.py
	$(BIN)/python bench/sync_quickbooks.py
	$(BIN)/python bench/sync_netsuite.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache arconnect-demo.db*
