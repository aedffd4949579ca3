# dlrun's everyday commands. `make demo` and `make test` install on first use.
# VENV may point elsewhere (CI keeps one outside the clone): make test VENV=/path/to/venv
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.dlrun-installed
DEMO_DIR ?= outputs/demo
ARGS ?=
PYTEST_ARGS ?= -n auto  # pytest-xdist: one worker per core

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint format run report reproduce bench data clean clean-outputs

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[dev]'
	@touch $@

setup: $(STAMP) ## create the venv and install dlrun (editable) with its test tools

demo: $(STAMP) ## a short study that needs no download: deep vs shallow MLPs (~500 parameters) fitting sin(x)+x^2
	@rm -rf $(DEMO_DIR)
	$(BIN)/dlrun -m dataset=function dataset.fn=sin_plus_square 'model.hidden=[166],[15,15,15],[10,10,10,10,10]' \
		trainer.epochs=60 trainer.batch_size=32 sweep.name=demo hydra.sweep.dir=$(DEMO_DIR) $(ARGS)
	@echo; echo "demo done. Open $(DEMO_DIR)/report.html (or report.md); the three fits over the ground truth are"; \
	echo "$(DEMO_DIR)/plots/fits.png, the table is $(DEMO_DIR)/summary.csv, and each job's metrics.csv,"; \
	echo "predictions.csv and plots/ are in its folder under $(DEMO_DIR)/."

test: $(STAMP) ## run the test suite (real-data tests use ../shared/datasets when present)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure" >&2; exit 1; fi; \
	exit $$rc

lint: $(STAMP) ## ruff: lint and check the formatting (what CI runs before the tests)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## ruff: fix what can be fixed and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

run: $(STAMP) ## one dlrun call: make run ARGS="dataset=gurmukhi model=cnn trainer.epochs=5"
	$(BIN)/dlrun $(ARGS)

report: ## re-render a sweep's summary.csv, report and plots (or a run's, eval's or gradient check's plots and report, or a study's): make report DIR=...
	@test -n "$(DIR)" || { echo 'make report: give the folder, e.g. make report DIR=outputs/sweeps/<name>/<stamp>' >&2; exit 2; }
	@$(MAKE) -s --no-print-directory $(STAMP)
	$(BIN)/python -m runner.report "$(DIR)"

comma := ,
empty :=
space := $(empty) $(empty)
REPORTS ?=
QUICK ?=
reproduce: $(STAMP) ## the five published reports, ours beside theirs: make reproduce [REPORTS="r2 r5"] [QUICK=1]
	$(BIN)/dlrun experiment=reproduce/all \
		$(if $(strip $(REPORTS)),'reproduce.reports=[$(subst $(space),$(comma),$(strip $(REPORTS)))]') \
		$(if $(QUICK),reproduce.quick=true) $(ARGS)

bench: $(STAMP) ## time dlrun against the DataLoader loop, write outputs/bench/<stamp>/bench.csv: make bench ARGS="--device cpu --quick"
	$(BIN)/python benchmarks/bench.py $(ARGS)

data: ## lay out the offline dataset copies from ../shared/datasets into ./data
	@test -f ../shared/datasets/prepare.py || { echo "make data: no ../shared/datasets/prepare.py beside this checkout: the offline copies come with the project's workspace; elsewhere put the files in the layout README.md's Offline data shows" >&2; exit 2; }
	$(PYTHON) ../shared/datasets/prepare.py data

clean: ## remove caches and build leftovers (keeps outputs/, the venv and data/)
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info
	find runner tests -name __pycache__ -type d -prune -exec rm -rf {} +

# Results are hours of training: deleting them is its own target, never a side effect of
# `clean`, and it stops if a running dlrun holds a folder there (its .dlrun.lock is flocked).
clean-outputs: ## delete everything under outputs/ (runs, sweeps, MLflow store), unless a dlrun is using it
	@test -d outputs || { echo "make clean-outputs: there is no outputs/ here: nothing to delete"; exit 0; }; \
	find outputs -name .dlrun.lock 2>/dev/null | while IFS= read -r lock; do \
		flock -n -s "$$lock" true 2>/dev/null || { echo "make clean-outputs: $$(dirname "$$lock") is in use by a running dlrun ($$(cat "$$lock")); nothing deleted" >&2; exit 2; }; \
	done || exit 2; \
	echo "find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +"; find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
