# One-command entry points (see README). Each target builds .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo lab test bench load fuzz lint clean browser

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@# `agentlab` is this project's former distribution name and an unrelated project on PyPI; either
	@# would share the agentlab import package with agentlab-voice, so it goes first
	$(BIN)/pip uninstall -q -y agentlab 2>/dev/null || true
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.voice: $(VENV)/.core
	$(BIN)/pip install -q -e '.[voice]'
	touch $@

$(VENV)/.notebooks: $(VENV)/.voice
	$(BIN)/pip install -q -e '.[lab]'
	touch $@

$(VENV)/.test: $(VENV)/.core
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.voice           ## the main job, headless and offline: simulations, sweeps, summaries, figures in agentlab-demo/
	$(BIN)/agentlab demo

lab: $(VENV)/.notebooks        ## the main job, interactive: JupyterLab on notebooks/
	$(BIN)/agentlab lab

browser:                       ## Debian's chromium for the browser test (needs root and apt; skipped when present)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "make: chromium not installed (needs root + apt); the browser test will be skipped"

test: $(VENV)/.test browser    ## lint and run the whole test suite (tests/ and the notebooks under nbval)
	$(BIN)/ruff check agentlab tests benchmarks
	$(BIN)/pytest -q

bench: $(VENV)/.test           ## speed figures (simulated seconds per wall second, VAD speed, cache, sweeps)
	$(BIN)/python benchmarks/bench_text_session.py
	$(BIN)/python benchmarks/bench_voice_session.py
	$(BIN)/python benchmarks/bench_vad.py
	$(BIN)/python benchmarks/bench_sweep.py

load: $(VENV)/.test            ## load and memory figures (~12 min): 1,000 sessions, 8 hours, a 10,000-conversation Dask sweep, the cache, long audio
	$(BIN)/python benchmarks/bench_load.py
	$(BIN)/python benchmarks/bench_long_audio.py

fuzz: $(VENV)/.test            ## 10,000 random step sequences against the session and turn engine; prints what they covered
	AGENTLAB_FUZZ_EXAMPLES=$${AGENTLAB_FUZZ_EXAMPLES:-10000} AGENTLAB_FUZZ_RANDOM=1 $(BIN)/pytest -q -s -p no:cacheprovider tests/test_fuzz.py -k random_steps

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts agentlab-demo
