# ftir-unmixer — `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch; GPU users: make install TORCH_SPEC="torch==<your CUDA build>".
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,io,baselines,sweep
SWEEP_DIR ?= outputs/sweep_demo
STAMP := $(VENV)/.installed-stamp
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install train train-paper sweep bench bench-big gpu-check quality test test-slow lint format synth clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the package with its dependencies

train: install ## Train the quick preset on the bundled synthetic cross-section (ARGS=overrides)
	$(PY) -m ftir_unmixer.train experiment=quick $(ARGS)

train-paper: install ## The paper's full run: WSAD, K=10, 500 epochs (hours on a CPU)
	$(PY) -m ftir_unmixer.train experiment=paper $(ARGS)

sweep: install ## Example sweep: SAD vs WSAD × K=4,6,8 on a reduced scene (~1 min), then its report
	rm -rf $(SWEEP_DIR)
	$(PY) -m ftir_unmixer.train -m experiment=sweep_demo hydra.sweep.dir=$(SWEEP_DIR) $(ARGS)
	$(VENV)/bin/ftir-unmixer report $(SWEEP_DIR) --explore

bench: install ## Training step against the authors' approach, side by side (ARGS="--threads 1" / "--ablation")
	$(PY) scripts/benchmark.py $(ARGS)

gpu-check: install ## On a CUDA machine (~8 min): throughput, 500-epoch paper runs, sweep, DDP → docs/gpu.md (ARGS=--dry-run: CPU, < 1 min)
	$(PY) scripts/gpu_check.py $(ARGS)

quality: install ## Study of issue 11: 4 reduced scenes x 8 methods x 3 seeds, each at its best normalisation (~2 h on 2 cores; resumable)
	$(PY) scripts/compare_methods.py --study mixing --epochs 5 --jobs 2 --out outputs/mixing \
		--set synthetic.num_tiles=2 data.patches_per_epoch=5000 $(ARGS)

bench-big: install ## Out-of-core benchmark: train on a ≥ 30 GB mosaic written to outputs/, report peak RSS, delete it (~25 min)
	$(PY) scripts/benchmark_out_of_core.py $(ARGS)

synth: install ## Write the bundled synthetic cross-section to data/synthetic_cross_section.h5
	$(VENV)/bin/ftir-unmixer synth -o data/synthetic_cross_section.h5

test: install ## Run the test suite (CPU, < 10 min; slow tests excluded)
	$(PY) -m pytest -q $(ARGS)

test-slow: install ## Run only the slow tests
	$(PY) -m pytest -q -m slow $(ARGS)

lint: install ## ruff check and format check
	$(VENV)/bin/ruff check src tests scripts notebooks
	$(VENV)/bin/ruff format --check src tests scripts notebooks

format: install ## Format the code with ruff
	$(VENV)/bin/ruff format src tests scripts notebooks
	$(VENV)/bin/ruff check --fix src tests scripts notebooks

clean: ## Remove outputs and caches (keeps .venv and data/)
	rm -rf outputs multirun .pytest_cache .ruff_cache
