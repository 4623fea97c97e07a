# The entry points people type. Everything sets itself up on first use.
#   make run     start Triton + the six services, analyse the bundled sample, keep serving
#   make test    unit + integration tests (starts a real mesh with Triton on free ports)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PROTOS := $(wildcard protos/veritas/v1/*.proto)

.PHONY: setup proto run test test-unit lint models evaluate clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt -c requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Generated stubs are committed; tests/test_codegen.py fails when they are stale.
proto: $(STAMP)
	$(PY) -m grpc_tools.protoc -I protos --python_out=. --pyi_out=. --grpc_python_out=. $(PROTOS)

run: setup proto
	$(PY) -m veritas.cli up

test: setup
	$(PY) -m pytest -q -ra

test-unit: setup
	$(PY) -m pytest -q -m "not integration"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy veritas fusion gateway services

# Retrain the models on ../shared/data and rewrite their cards.
models: setup
	$(PY) -m models.training.text
	$(PY) -m models.training.vision
	$(PY) -m models.training.audio_cues
	$(PY) -m models.training.physiology_cues

clean:
	rm -rf .run .pytest_cache .ruff_cache .mypy_cache
