# dlbasics: set-up, tests and benchmarks.
#   make demo    install and run the offline quickstart
#   make test    install with the dev extras and run the test suite
# Inside an active virtualenv everything installs there; otherwise into ./.venv (created on first use).

ifeq ($(strip $(VIRTUAL_ENV)),)
PY := .venv/bin/python
ENV := .venv/bin/python
else
PY := python
ENV :=
endif
BIN := $(dir $(shell command -v $(PY) 2>/dev/null || echo $(PY)))

.PHONY: help install dev demo test lint bench figures docs mnist-mini clean

help:
	@echo "make demo | test | lint | bench | figures | docs | install | dev | mnist-mini | clean"

.venv/bin/python:
	python3 -m venv .venv

install: $(ENV)
	$(PY) -m pip install -q -e .

dev: $(ENV)
	$(PY) -m pip install -q -e ".[dev]"

demo: install
	$(PY) -m dlbasics train configs/quickstart.yaml
	@echo "(the dlb command lives in $(BIN); activate that environment to use it directly)"

test: dev
	$(PY) -m pytest -q -n 2

lint: dev
	$(PY) -m ruff check dlbasics tests

bench: install
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) -m dlbasics.bench

# Regenerate every teaching figure into docs/figures/ and the index docs/gallery.md (offline; about 2 minutes on 2 cores).
figures: install
	$(PY) -m dlbasics.figures

# Regenerate the config reference in README.md from the schema (a test checks they agree).
docs: install
	$(PY) -m dlbasics.config.reference README.md

# Rebuild the bundled mnist-mini from the four MNIST IDX files in MNIST_DIR.
mnist-mini: install
	$(PY) -m dlbasics.data.build_mnist_mini $(MNIST_DIR)

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
