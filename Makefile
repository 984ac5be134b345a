# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/arconnect demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

# mypy must see the installed layout (connector/ is `arconnect`, adapters/ is `arconnect.adapters`
# ...), so it checks a tree of links that mirrors it.
lint: $(STAMP)
	$(BIN)/ruff check connector adapters sandbox tests bench
	rm -rf build/typecheck && mkdir -p build/typecheck/arconnect
	for f in connector/*; do ln -s "$$PWD/$$f" build/typecheck/arconnect/; done
	for d in adapters mappings config sandbox; do ln -s "$$PWD/$$d" build/typecheck/arconnect/$$d; done
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml -p arconnect

bench: $(STAMP)
	$(BIN)/python bench/sync_xero.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache arconnect-demo.db*
