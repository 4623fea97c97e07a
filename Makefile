# The entry points people type. Everything sets itself up on first use.
#   make run     start Triton + the six services, analyse the bundled sample, keep serving
#   make observe the same, plus a local Prometheus with the Helm chart's alert rules
#   make test    unit + integration tests (starts a real mesh with Triton on free ports)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PROTOS := $(wildcard protos/veritas/v1/*.proto)

.PHONY: setup sysdeps proto run observe test test-unit lint evaluate bench bench-quick profile clean images images-push face-models

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
	$(PY) -m tools.cli up

# `make run` plus a local Prometheus scraping the mesh with the chart's alert rules loaded
# (http://127.0.0.1:9090/alerts); see "Watching the alerts" in the README.
observe: setup proto sysdeps
	$(PY) -m tools.cli up --observe

# System packages the tests need: redis-server (the gateway's rate limits shared across
# replicas) and prometheus (promtool tests the alert rules; `make observe` runs the server).
# Installed with apt when missing (as root, e.g. in CI).
sysdeps:
	@command -v redis-server >/dev/null || { echo "installing redis-server (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  --no-install-recommends redis-server; }
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
	  echo "installing prometheus and promtool (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  --no-install-recommends prometheus; }

test: setup sysdeps
	$(PY) -m pytest -q -ra

test-unit: setup
	$(PY) -m pytest -q -m "not integration"

# The same checks run on each commit with pre-commit (.pre-commit-config.yaml). mypy checks
# the packages [tool.mypy] lists in pyproject.toml, strictly on veritas/ (runtime, SDK), tools/.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

IMAGES       := gateway fusion vision audio text physiology model-repository
IMAGE_TAG    ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$$/\1/p' helm/veritas/Chart.yaml)
IMAGE_PREFIX ?= veritas-
DOCKER       ?= docker

# One image per deployable (docker/*.Dockerfile) plus Triton's model repository, tagged
# $(IMAGE_PREFIX)<name>:$(IMAGE_TAG), the names helm/veritas expects. Needs a Docker engine.
images:
	@for name in $(IMAGES); do \
	  echo "$(DOCKER) build -f docker/$$name.Dockerfile -t $(IMAGE_PREFIX)$$name:$(IMAGE_TAG) ."; \
	  $(DOCKER) build -f docker/$$name.Dockerfile -t $(IMAGE_PREFIX)$$name:$(IMAGE_TAG) . || exit 1; \
	done

images-push: images
	@for name in $(IMAGES); do $(DOCKER) push $(IMAGE_PREFIX)$$name:$(IMAGE_TAG) || exit 1; done

# Benchmark a fresh local mesh -> benchmarks/results/<date>-<machine>[-quick].{json,md,png}
bench: setup
	$(PY) -m benchmarks --profile full

bench-quick: setup
	$(PY) -m benchmarks --profile quick

# Where each process spends its CPU under load: py-spy on every service while the load
# generator sends distinct requests (benchmarks/profile.py; PROFILE_ARGS e.g. "--workload
# audio_text --gil"). Writes benchmarks/results/profile-<date>-<machine>-<workload>/.
profile: setup
	$(PY) -m benchmarks.profile $(PROFILE_ARGS)

# The face models (models/repository/face_*) from the MediaPipe 0.10.21 wheel, converted to
# ONNX in a throwaway venv (.run/face-convert-venv) and checked against Google's LiteRT.
face-models: setup
	$(PY) -m models.face.convert

# Chaos (tests/chaos/, docs/gateway.md "Errors"): the corpus of malformed inputs, the fuzz
# (FUZZ_SCALE times the examples `make test` runs) and every fault under load; the fault
# figures go to benchmarks/results/<date>-<machine>-chaos.md. The soak (SOAK_MINUTES) adds
# RSS per process to the same report and fails on a growing trend.
.PHONY: chaos soak
FUZZ_SCALE   ?= 5
SOAK_MINUTES ?= 5
chaos: setup
	VERITAS_CHAOS=1 VERITAS_CHAOS_REPORT=1 VERITAS_FUZZ_SCALE=$(FUZZ_SCALE) $(PY) -m pytest -q -ra tests/chaos

soak: setup
	$(PY) -m tests.chaos.soak --minutes $(SOAK_MINUTES)

# Retrain every model, rewrite its card, check every card has its sections (docs/models.md).
evaluate: setup
	$(PY) -m models.evaluate

clean:
	rm -rf .run .pytest_cache .ruff_cache .mypy_cache
