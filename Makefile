# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-full oracle compare triton triton-venv bench clean system-tools graphviz-tool

# System packages, from the distribution (apt) when missing: Graphviz's `dot` lays out the HTML report's
# dtype-flow picture; Debian's chromium and chromedriver run the browser tests (never a downloaded build).
define need_system
	@missing=""; for pc in $(1); do command -v $${pc#*:} >/dev/null 2>&1 || missing="$$missing $${pc%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "install these system packages first:$$missing" >&2; exit 1; fi; fi
endef

graphviz-tool:
	$(call need_system,graphviz:dot)

system-tools:
	$(call need_system,graphviz:dot chromium:chromium chromium-driver:chromedriver)

# torch is installed first and pinned exactly: an unpinned torch resolves to a multi-GB CUDA build.
# pip byte-compiles what it installs one file at a time (≈ 40 s here); it is told not to, and
# $(COMPILED) compiles the venv on every core instead — during mypy when `make test` runs. It must
# happen before any verb runs: the jailed child cannot write __pycache__ into the venv, so an
# uncompiled module would be compiled again on every run.
COMPILED := $(VENV)/.compiled-stamp
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-compile torch==2.13.0
	$(BIN)/python -m pip install -q --no-compile -e '.[rtx,test]'
	touch $(STAMP)

# compileall exits 1 for the few files no Python 3 compiles (packages' own py2 fixtures): pip skips
# those too, so the exit status is not the verdict here.
$(COMPILED): $(STAMP)
	-$(BIN)/python -m compileall -q -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null 2>&1
	touch $(COMPILED)

demo: $(COMPILED) graphviz-tool
	$(BIN)/trtready demo -o demo-out

# mypy first (configured in pyproject.toml; --strict on the whole package), with the venv compiling
# beside it, then the import layers (import-linter's contracts in pyproject.toml: an import back up
# fails here). pytest exits 5
# when it collects no tests: that is a failure here, never a silent pass. pytest-xdist runs the suite on
# every core; tests that share a module fixture (a Triton server, a Ray cluster, a built model) stay on one
# worker (--dist loadgroup, groups set in tests/conftest.py). PYTEST_XDIST=0 runs it serially.
# `make test` is the tier a newcomer waits for; `make test-full` (CI) adds the tests marked full_tier
# (tests/tiers.py: the whole zoo, fuzz at scale, ONNX's backend cases, a served Triton, a Ray cluster).
PYTEST_XDIST ?= auto
test: $(STAMP) system-tools $(if $(filter full,$(TRTREADY_TIER)),triton-venv)
	$(MAKE) --no-print-directory $(COMPILED) & pid=$$!; $(BIN)/python -m mypy; rc=$$?; wait $$pid || rc=1; exit $$rc
	$(BIN)/lint-imports --no-logo
	TRTREADY_TEST_FLOOR=1 $(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_XDIST) --dist loadgroup; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-full:
	TRTREADY_TIER=full $(MAKE) --no-print-directory test

# The oracle: trtready's Torch-TensorRT predictions checked against the real library (README, "Oracle").
# A venv of its own: torch-tensorrt-rtx 2.13 needs tensorrt_rtx 1.5 (the project venv has 1.7, same import
# name) and PyPI's CUDA build of torch (its libtorchtrt.so links libtorch_cuda.so), about 5 GB.
# `===` is exact string equality: it skips a local `+cpu` wheel that `==2.13.0` would accept.
# trtready goes in with --no-deps and its dependencies by name, so pip has no reason to touch torch;
# the last step fails the install if torch is not the CUDA build after all.
ORACLE       := .venv-oracle
OBIN         := $(ORACLE)/bin
OSTAMP       := $(ORACLE)/.installed-stamp
ORACLE_DEPS  := 'tensorrt_rtx>=1.5.0.114,<1.6' 'torch-tensorrt-rtx==2.13.0'
PROJECT_DEPS := 'onnx>=1.17' 'onnx-ir>=0.1.10' 'onnxscript>=0.5' 'onnxruntime>=1.20' 'safetensors>=0.4' \
                'rich>=13' 'click>=8.1' 'numpy>=1.26' 'pytest>=8' 'hypothesis>=6.100' \
                'landlock==1.0.0.dev5' 'pyseccomp>=0.1.2' 'graphviz>=0.20'

$(OSTAMP): pyproject.toml Makefile
	test -x $(OBIN)/python || $(PYTHON) -m venv $(ORACLE)
	$(OBIN)/python -m pip install -q --upgrade pip
	$(OBIN)/python -m pip install -q 'torch===2.13.0' $(ORACLE_DEPS)
	$(OBIN)/python -m pip install -q $(PROJECT_DEPS) 'torch===2.13.0'
	$(OBIN)/python -m pip install -q --no-deps -e .
	$(OBIN)/python -c "import torch; assert torch.version.cuda and '+cpu' not in torch.__version__, torch.__version__"
	touch $(OSTAMP)

# tests/oracle is left out of `make test` (pyproject: --ignore=tests/oracle); named explicitly, it is
# collected. The run writes its predicted-vs-real table to docs/oracle.md.
oracle: $(OSTAMP)
	TRTREADY_ORACLE_DOC=docs/oracle.md $(OBIN)/python -m pytest -q -p no:cacheprovider tests/oracle; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no oracle tests" >&2; exit 1; fi; exit $$rc

# trtready beside trtcheck and Polygraphy on the same ONNX files (bench/compare.py writes docs/compare.md).
# The two tools get a venv of their own, from PyPI: Polygraphy's `check lint` needs onnx_graphsurgeon and
# ONNX Runtime, and with POLYGRAPHY_USE_TENSORRT_RTX=1 it parses and builds with TensorRT-RTX, which
# needs no GPU to build. Its TensorRT 8/10 paths need the `tensorrt` wheel and a GPU: not installed.
# Left out of `make test`: a run takes about 15 minutes on 2 cores (12.6 measured, zoo exports kept).
COMPARE      := .venv-compare
CBIN         := $(COMPARE)/bin
CSTAMP       := $(COMPARE)/.installed-stamp
COMPARE_DEPS := 'trtcheck==1.1.0' 'polygraphy==0.53.6' 'onnx_graphsurgeon==0.6.1' 'onnxruntime>=1.20' \
                'tensorrt_rtx==1.7.1.116'

$(CSTAMP): Makefile
	test -x $(CBIN)/python || $(PYTHON) -m venv $(COMPARE)
	$(CBIN)/python -m pip install -q --upgrade pip
	$(CBIN)/python -m pip install -q $(COMPARE_DEPS)
	touch $(CSTAMP)

compare: $(COMPILED) $(CSTAMP)
	$(BIN)/python bench/compare.py --tools $(CBIN) $(COMPARE_ARGS)

# A real Triton server for tests/deploy/test_triton_server.py: PyTriton's bundled tritonserver runs on the
# CPU. nvidia-pytriton pins numpy<2 (the project venv has numpy 2), and its Python backend stub links the
# system's libpython3.X, so the venv is made from that system Python (a pyenv Python of another patch
# release mixes two standard libraries and the stub fails in multiprocessing). Without the venv the
# server test is skipped and says so.
TRITON       := .venv-triton
TBIN         := $(TRITON)/bin
TSTAMP       := $(TRITON)/.installed-stamp
TRITON_PY    ?= /usr/bin/python3.11

$(TSTAMP): Makefile
	test -x $(TBIN)/python || $(TRITON_PY) -m venv $(TRITON)
	$(TBIN)/python -m pip install -q 'nvidia-pytriton==0.7.0' 'onnxruntime>=1.20'
	touch $(TSTAMP)

# `make test` builds it too (≈ 30 s) where that system Python exists; elsewhere the server test says why it skips.
triton-venv:
	@if [ -x $(TRITON_PY) ]; then $(MAKE) --no-print-directory $(TSTAMP); \
	else echo "no $(TRITON_PY): tests/deploy/test_triton_server.py will be skipped (make triton TRITON_PY=…)" >&2; fi

triton: $(COMPILED) $(TSTAMP)
	TRTREADY_TIER=full TRTREADY_TRITON_PYTHON=$(TBIN)/python $(BIN)/python -m pytest -q -p no:cacheprovider tests/deploy

clean:
	rm -rf $(VENV) $(ORACLE) $(COMPARE) $(TRITON) demo-out
