# Two commands set up everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.myovox-installed

.PHONY: demo test test-portable bench venv clean lint docs

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools<81" wheel
	# torch: the CPU build that lies on this machine's disk (any other request downloads CUDA)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,test,dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/myovox demo

# the whole suite, then the model and export tests again with the float kernels a CPU without
# AVX-512 gets (oneDNN capped at AVX2, C training kernels built for the x86-64-v2 baseline)
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests
	ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 MYOVOX_C_MARCH=x86-64-v2 \
		$(PY) -m pytest -q -p no:cacheprovider tests/unit/models tests/unit/export

# the model tests with the C training kernels built for the portable x86-64-v2 baseline instead of
# this CPU (`make test` already builds and checks both targets once, in tests/unit/models/test_ckernels.py)
test-portable: $(STAMP)
	MYOVOX_C_MARCH=x86-64-v2 $(PY) -m pytest -q -p no:cacheprovider tests/unit/models

# ruff (lint, then formatting) and mypy (configured in pyproject.toml); all three run, the target fails if any did
lint: $(STAMP)
	@rc=0; \
	echo "ruff check src tests"; $(VENV)/bin/ruff check --output-format concise src tests || rc=1; \
	echo "ruff format --check src tests"; $(VENV)/bin/ruff format --check --output-format concise src tests || rc=1; \
	echo "mypy (files and options: pyproject.toml)"; $(PY) -m mypy || rc=1; \
	exit $$rc

# user guide and API reference (Sphinx) into build/docs; any warning fails the build, all are listed
docs: $(STAMP)
	$(PY) -m sphinx -E -W --keep-going -q -b html docs build/docs

bench: $(STAMP)
	$(VENV)/bin/myovox bench --quick

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
