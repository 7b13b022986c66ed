# The two commands a user needs: `make run` and `make test`. Each sets itself up first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test demo bench generate clean install
install: $(STAMP)

$(STAMP): requirements/runtime.txt requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)   ## the whole system locally: moto, both APIs, consumers, outbox relay
	$(PY) -m local_stack

demo: $(STAMP)  ## the seed's system test, told step by step
	$(PY) -m local_stack.demo

test: $(STAMP)  ## every test: unit, integration (SQLite + MySQL when reachable), e2e
	$(PY) -m pytest -n auto --dist loadgroup $(PYTEST_ARGS) || [ $$? -eq 5 ]  # 5: no tests collected

bench: $(STAMP) ## benchmarks; writes docs/benchmarks.md
	$(PY) -m bench

generate: $(STAMP) ## rewrite the files derived from inventory_core/topology.py (tests check they match)
	$(PY) -m inventory_core.topology PREFIX > terraform/topology.json
	$(PY) -m deploy.settings --example

clean:
	rm -rf $(VENV) var build *.egg-info
