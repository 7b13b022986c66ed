# The two commands a user needs: `make run` and `make test`. Each sets itself up first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint demo bench simulate generate clean install lambda-venv lock deploy-rehearsal
install: $(STAMP)

# First use (or new requirements): say what is being installed and how far it has got.
$(STAMP): requirements/runtime.txt requirements/dev.txt pyproject.toml
	@echo "make: setting up $(VENV) with the pinned packages of requirements/dev.txt (1-3 min)"
	@echo "  [1/4] a virtualenv ($$($(PYTHON) --version))"
	@$(PYTHON) -m venv $(VENV)
	@echo "  [2/4] pip, setuptools, wheel"
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
	@echo "  [3/4] the project's dependencies"
	@$(PY) tools/pip_progress.py -r requirements/dev.txt
	@echo "  [4/4] this project, editable"
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)
	@echo "make: $(VENV) is ready"

run: $(STAMP)   ## the whole system locally: moto, both APIs, consumers, outbox relay
	$(PY) -m local_stack

demo: $(STAMP)  ## the seed's system test, told step by step
	$(PY) -m local_stack.demo

# Lint first and the tests anyway, so one run reports both; pytest's summary stays the last line.
test: $(STAMP)  ## lint, then every test: unit, integration (SQLite + MySQL when reachable), e2e
	@lint=0; $(MAKE) --no-print-directory lint || lint=$$?; \
	$(PY) -m pytest -n auto --dist loadgroup $(PYTEST_ARGS) || [ $$? -eq 5 ] || exit 1; \
	if [ $$lint -ne 0 ]; then echo "make test: the tests passed but lint failed (above)" >&2; exit 1; fi

lint: $(STAMP)  ## ruff (style, bugs, import order) and mypy (types), configured in pyproject.toml
	@status=0; \
	echo "ruff check ."; $(PY) -m ruff check . || status=1; \
	echo "mypy"; $(PY) -m mypy || status=1; \
	exit $$status

bench: $(STAMP) ## benchmarks; writes docs/benchmarks.md
	$(PY) -m bench

simulate: $(STAMP) ## a year of fixed vs learned reorder rules; writes the table and chart in docs/demand.md
	$(PY) -m bench.reorder_sim --write

generate: $(STAMP) ## rewrite the files derived from inventory_core/topology.py (tests check they match)
	$(PY) -m inventory_core.topology PREFIX > terraform/topology.json
	$(PY) -m deploy.settings --example

lambda-venv: $(STAMP) ## the virtualenv Zappa packages: manylinux2014 wheels Lambda's glibc 2.26 loads
	$(PY) -m deploy.lambda_venv --dir .venv-lambda

deploy-rehearsal: $(STAMP) ## the whole zappa deploy/update/status/undeploy against moto (~2 min)
	$(PY) -m tests.deploy.rehearsal

lock: $(STAMP)  ## re-pin requirements/*.txt (pip freeze of fresh virtualenvs); then run make test
	$(PY) tools/lock.py

clean:
	rm -rf $(VENV) .venv-lambda var build *.egg-info .mypy_cache .ruff_cache
