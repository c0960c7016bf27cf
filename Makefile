# The two set-up commands: `make figures` and `make test`. Each bootstraps .venv first.
# `make test` is the fast suite (every unit and known-answer test, minutes); `make test-all` adds the slow
# system tests (the end-to-end workflow runs, training, SLURM, browser) and is what CI (.ci/run) runs.
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
# pytest's exit status 5 is "no tests collected" (e.g. every slow test deselected by a -k of your own): not a failure.
NO_TESTS_OK := status=$$?; [ $$status -eq 5 ] && echo "(no tests selected)" && status=0; exit $$status

# The fast suite. tests/conftest.py fails it when a file's unmarked tests take over 30 s together, so a slow
# test has to be marked @pytest.mark.slow (and runs in test-slow/test-all) instead of slowing this down.
test: $(STAMP)
	$(PYTEST) -m "not slow" || { $(NO_TESTS_OK); }
	@echo "make test: fast suite only; left out (pytest's 'deselected'): the tests marked slow (end-to-end workflow runs, training, SLURM, browser): make test-all runs everything"

# Only the slow tests, with the opt-in system tests (SLURM: root, apt-get installs it if missing; browser:
# Debian's chromium) switched on; each skips with a one-line reason where it cannot run.
test-slow: $(STAMP)
	KERNELVIS_TEST_SLURM=1 KERNELVIS_TEST_BROWSER=1 $(PYTEST) -m slow || { $(NO_TESTS_OK); }

# Everything: the fast suite (with its time guard) and then the slow tests, as CI runs them.
test-all: test test-slow

# Only the SLURM test, opted in: brings up a one-node SLURM (root; apt-get installs it if missing).
test-slurm: $(STAMP)
	KERNELVIS_TEST_SLURM=1 PATH=$(BIN):$$PATH $(BIN)/python -m pytest -p no:xdist -q tests/test_slurm.py

# Every benchmark script with its defaults: quick settings that read what `make figures` wrote (results/data/clips.npz,
# results/demo/demo_model.pt, results/); each script's --full gives the full-size run its docs report.
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
