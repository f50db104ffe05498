# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench clean

# torch is installed first and pinned exactly: an unpinned torch resolves to a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[rtx,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/trtready demo -o demo-out

# pytest exits 5 when it collects no tests: that is a failure here, never a silent pass.
test: $(STAMP)
	TRTREADY_TEST_FLOOR=1 $(BIN)/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

clean:
	rm -rf $(VENV) demo-out
