# The two set-up commands: `make figures` and `make test`. Each bootstraps .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
# torch/torchvision are pinned in pyproject.toml; installing them first keeps pip from
# resolving an unpinned (multi-gigabyte) torch through another package's requirements.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: venv figures test test-slurm bench lint report clean-results

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PINS)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

figures: $(STAMP)
	PATH=$(BIN):$$PATH $(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml

test: $(STAMP)
	PATH=$(BIN):$$PATH $(BIN)/python -m pytest -n 2 --dist loadfile -q

# Only the SLURM test, opted in: brings up a one-node SLURM (root; apt-get installs it if missing).
test-slurm: $(STAMP)
	KERNELVIS_TEST_SLURM=1 PATH=$(BIN):$$PATH $(BIN)/python -m pytest -p no:xdist -q tests/test_slurm.py

bench: $(STAMP)
	PATH=$(BIN):$$PATH sh -c 'for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done'

lint: $(STAMP)
	PATH=$(BIN):$$PATH $(BIN)/snakemake --lint --configfile config/config.yaml

report: $(STAMP)
	PATH=$(BIN):$$PATH $(BIN)/snakemake --cores 1 --configfile config/config.yaml --report results/report.html

clean-results:
	find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf logs
