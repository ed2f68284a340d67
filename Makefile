# One-command entry points (see README). Each target builds .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench lint clean

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.core
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.core            ## the main job, offline: simulate the quickstart agent and print its frames
	$(BIN)/agentlab demo

test: $(VENV)/.test            ## lint and run the whole test suite
	$(BIN)/ruff check agentlab tests benchmarks
	$(BIN)/pytest -q

bench: $(VENV)/.test           ## speed figures (simulated seconds per wall second, VAD speed, cache)
	$(BIN)/python benchmarks/bench_text_session.py
	$(BIN)/python benchmarks/bench_voice_session.py
	$(BIN)/python benchmarks/bench_vad.py
	$(BIN)/python benchmarks/bench_sweep.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
