# The two set-up commands: `make figures` and `make test`. Each bootstraps .venv first.
# `make test` is the fast suite (every unit and known-answer test, minutes); `make test-all` adds the slow
# system tests (the end-to-end workflow runs, SLURM, browser) and is what CI (.ci/run) runs.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
# torch/torchvision are pinned in pyproject.toml; installing them first keeps pip from
# resolving an unpinned (multi-gigabyte) torch through another package's requirements.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: venv figures test test-slow test-all test-slurm bench lint report clean-results

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PINS)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

figures: $(STAMP)
	PATH=$(BIN):$$PATH $(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml

PYTEST := PATH=$(BIN):$$PATH $(BIN)/python -m pytest -n 2 --dist loadfile -q
# pytest's exit status 5 is "no tests collected" (e.g. a -k of your own that leaves nothing): not a failure.
NO_TESTS_OK := if [ $$status -eq 5 ]; then echo "(no tests selected)"; status=0; fi; exit $$status

# The fast suite, for between two edits. tests/fast_suite_guard.py fails it when a file's unmarked tests take
# over 30 CPU s together: a slow test is marked @pytest.mark.slow and runs in test-slow/test-all instead.
test: $(STAMP)
	@status=0; $(PYTEST) -m "not slow" || status=$$?; \
	echo "make test: the fast suite; left out: the tests marked slow (end-to-end workflow runs, SLURM, browser; pytest's 'deselected'): run everything with make test-all"; \
	$(NO_TESTS_OK)

# Only the slow tests, with the opt-in system tests switched on (SLURM: root, apt-get installs it if missing;
# browser: Debian's chromium); each skips with a one-line reason where it cannot run. The workflow, browser and
# SLURM tests share one run of the tiny workflow (tests/conftest.py, tiny_workflow_run).
test-slow: $(STAMP)
	@status=0; KERNELVIS_TEST_SLURM=1 KERNELVIS_TEST_BROWSER=1 $(PYTEST) -m slow || status=$$?; $(NO_TESTS_OK)

# Everything: the fast suite (with its guard), then the slow tests. CI (.ci/run) runs this.
test-all: test test-slow

# Only the SLURM test, opted in: brings up a one-node SLURM (root; apt-get installs it if missing); it compares
# with a local run of the whole tiny workflow, which it makes first.
test-slurm: $(STAMP)
	KERNELVIS_TEST_SLURM=1 PATH=$(BIN):$$PATH $(BIN)/python -m pytest -p no:xdist -q tests/test_slurm.py

# Every benchmark script with its defaults: quick settings that read what `make figures` wrote (results/data/clips.npz,
# results/demo/demo_model.pt, results/); the heavy ones take --full for the full-size runs their docs report.
bench: $(STAMP)
	PATH=$(BIN):$$PATH sh -c 'started=$$(date +%s); for script in benchmarks/*.py; do echo "== $$script"; \
	begun=$$(date +%s); $(BIN)/python $$script || exit 1; \
	echo "== $$script: $$(( $$(date +%s) - begun )) s"; done; echo "make bench: $$(( $$(date +%s) - started )) s in all"'

lint: $(STAMP)
	PATH=$(BIN):$$PATH $(BIN)/snakemake --lint --configfile config/config.yaml

report: $(STAMP)
	PATH=$(BIN):$$PATH $(BIN)/snakemake --cores 1 --configfile config/config.yaml --report results/report.html

clean-results:
	find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf logs
