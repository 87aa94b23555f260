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

.PHONY: install install-test demo test clean default-model candidate-model

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

# music from the shipped default model (saved_models/default/): 8 melodies of 64 bars, and bars 17-32 of a POP909
# test song regenerated with the other bars kept; MIDI, piano rolls and a grid picture in $(DEMO_OUT)/
demo: install
	$(VENV)/bin/symdiff sample --num 8 --seed 0 --out $(DEMO_OUT)/samples
	$(VENV)/bin/symdiff infill $(SHARED)/pop909/midi/010.mid --bars 17-32 --track MELODY --out $(DEMO_OUT)/infill

# the shipped default model from POP909 into runs/default/ (hours of CPU; resumable: run it again after an
# interruption); candidate-model: the 98.3 % MusicVAE's recipe (configs/candidate.yaml) into runs/candidate/
default-model: install
	$(PY) scripts/default_model.py --recipe default

candidate-model: install
	$(PY) scripts/default_model.py --recipe candidate

test: install-test
	$(PY) -m pytest -n 2 -q

clean:
	rm -rf $(VENV) $(DEMO_OUT)
