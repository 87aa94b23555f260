# Two-command quick start: `make demo` (main job) and `make test` (test suite).
# Each creates or reuses a virtual environment in .venv with nothing but Python 3.11 needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
SHARED ?= ../shared/data
DEMO_OUT ?= demo_out
# magenta is a reference only (parity tests, benchmarks, checkpoint import checks): no deps, never a runtime import.
MAGENTA := magenta==2.1.4

.PHONY: install install-test demo test bench clean default-model

$(VENV)/.stamp-install: setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || $(PY) -m pip install -q uv
	$(UV) pip install -q --python $(PY) --compile-bytecode -e ".[beam]"
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-install
	$(UV) pip install -q --python $(PY) --compile-bytecode -e ".[beam,test]"
	$(UV) pip install -q --python $(PY) --compile-bytecode --no-deps $(MAGENTA)
	touch $@

install: $(VENV)/.stamp-install
install-test: $(VENV)/.stamp-test

demo: install
	$(VENV)/bin/symdiff melodies $(SHARED)/pop909/midi/001.mid $(SHARED)/pop909/midi/002.mid $(SHARED)/pop909/midi/003.mid --track MELODY --out $(DEMO_OUT)

# the shipped default model from POP909 (hours of CPU; resumable: run it again after an interruption)
default-model: install
	$(PY) scripts/default_model.py

test: install-test
	$(PY) -m pytest -n 2 -q

clean:
	rm -rf $(VENV) $(DEMO_OUT)
