# alnn: from raw data to paper/main.pdf.  `make help` lists the targets.
#
# The graph (one profile at a time, every path profile-specific):
#   setup -> config -> data -> grid -> trials, budget, ablation -> reports (notebooks) -> analysis -> paper
# Each result file depends on exactly the files that determine it. The
# settings a stage depends on are written to results/<profile>/config/*.json
# only when they change (`alnn config` runs whenever lib/alnn changed since
# its last run), so editing one problem's settings in lib/alnn/profiles.toml,
# or any engine source file, reruns exactly the stages it affects; inside a
# stage the shard store (results/<profile>/shards/) recomputes only shards
# whose key changed. Every file is rewritten only when its content changes,
# so on a finished study `make paper` runs nothing (`make -q paper` exits 0).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules

PYTHON_BOOT ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.alnn-installed

# Raw data mirror: the loaders look here after data/raw and the system copy.
ALNN_DATA_MIRROR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export ALNN_DATA_MIRROR

# ---------------------------------------------------------------------------
# Settings: make paper PROFILE=smoke|quick|full EXECUTOR=local|dask SCHEDULER=... DEVICE=cpu|cuda WORKERS=N
PROFILE ?= quick
EXECUTOR ?= local
SCHEDULER ?=
DEVICE ?= cpu
WORKERS ?=
# where results go (results/<profile>/ below it); tests point it at a folder of their own
RESULTS ?= results

PROFILES := smoke quick full
EXECUTORS := local dask
DEVICES := cpu cuda
# one word, and one of the valid ones: checked before any work
check_setting = $(if $(and $(filter 1,$(words $($1))),$(filter $($1),$2)),,$(error $1=$($1) is not valid; valid: $2))
$(call check_setting,PROFILE,$(PROFILES))
$(call check_setting,EXECUTOR,$(EXECUTORS))
$(call check_setting,DEVICE,$(DEVICES))
ifneq ($(strip $(WORKERS)),)
ifneq ($(shell [[ '$(WORKERS)' =~ ^[1-9][0-9]*$$ ]] && echo ok),ok)
$(error WORKERS=$(WORKERS) is not valid; valid: a positive integer, or empty for all cores)
endif
endif

# The study (alnn.config checks that these lists match the package: tests/test_notebooks.py).
PROBLEMS := iris wine fashion-mnist sine california-housing energy-efficiency
CLASSIFICATION := iris wine fashion-mnist
# The strategies, as each strategy's module describes itself (lib/alnn/strategies/catalogue.py, run on the
# standard library alone; `python -m alnn strategies --describe` lists them): no name is written here.
strategy_names = $(shell $(PYTHON_BOOT) lib/alnn/strategies/catalogue.py $1)
task_of = $(if $(filter $1,$(CLASSIFICATION)),classification,regression)
STRATEGIES := $(call strategy_names,--protocol draft)
# the budget protocol's strategies (passive: its full-pool ceiling)
BUDGET_STRATEGIES := $(call strategy_names,--protocol budget)
STRATEGIES_classification := $(call strategy_names,--protocol draft --task classification)
STRATEGIES_regression := $(call strategy_names,--protocol draft --task regression)
BUDGET_STRATEGIES_classification := $(call strategy_names,--protocol budget --task classification)
BUDGET_STRATEGIES_regression := $(call strategy_names,--protocol budget --task regression)
strategies_of = $(STRATEGIES_$(call task_of,$1))
budget_strategies_of = $(BUDGET_STRATEGIES_$(call task_of,$1))
problems_of = $(foreach p,$(PROBLEMS),$(if $(filter $1,$(call strategies_of,$p)),$p))

R := $(RESULTS)/$(PROFILE)
RP := reports/$(PROFILE)
GEN := paper/generated/$(PROFILE)
FIG := figures/$(PROFILE)
BUILD := paper/build/$(PROFILE)

CLI := $(PY) -m alnn

# Goals that read no results: for them nothing runs while the Makefile is read (below).
QUIET_GOALS := help print-% clean setup lab bench test tex chromium
NEEDS_RESULTS := $(filter-out $(QUIET_GOALS),$(or $(MAKECMDGOALS),help))

# DEVICE=cuda needs a torch that sees a GPU: checked before any work (while the Makefile is read; on a fresh
# clone, right after .venv is set up).
CUDA_PROBLEM := import torch; print("" if torch.cuda.is_available() else "DEVICE=cuda is not valid on this \
  machine: torch " + torch.__version__ + " sees no CUDA GPU; valid here: cpu (the README names the CUDA build \
  of torch to install)")
ifeq ($(DEVICE),cuda)
ifneq ($(and $(NEEDS_RESULTS),$(wildcard $(STAMP))),)
CUDA_MESSAGE := $(shell $(PY) -c '$(CUDA_PROBLEM)' 2>&1)
$(if $(CUDA_MESSAGE),$(error $(CUDA_MESSAGE)))
endif
endif
RUN := --executor '$(EXECUTOR)' --scheduler '$(SCHEDULER)' --device '$(DEVICE)' --workers '$(WORKERS)'
PAPERMILL := $(PY) -m papermill --cwd $(CURDIR) --no-progress-bar --log-level WARNING

CONFIGS := $(foreach p,$(PROBLEMS),$(R)/config/data-$p.json $(R)/config/grid-$p.json \
             $(foreach s,$(call strategies_of,$p),$(R)/config/trials-$p-$s.json) \
             $(foreach s,$(call budget_strategies_of,$p),$(R)/config/budget-$p-$s.json)) $(R)/config/ablation.json
DATA := $(PROBLEMS:%=$(R)/data/%.json)
GRID := $(foreach p,$(PROBLEMS),$(R)/grid/$p.parquet $(R)/grid/$p.json)
trials_of = $(foreach s,$(call strategies_of,$1),$(R)/trials/$1/$s.parquet)
diagnostics_of = $(foreach s,$(call strategies_of,$1),$(R)/diagnostics/$1/$s.parquet)
TRIALS := $(foreach p,$(PROBLEMS),$(call trials_of,$p))
budget_of = $(foreach s,$(call budget_strategies_of,$1),$(R)/budget/$1/$s.parquet)
BUDGET := $(foreach p,$(PROBLEMS),$(call budget_of,$p))
DIAGNOSTICS := $(foreach p,$(PROBLEMS),$(call diagnostics_of,$p))
# the problems it covers are the profile's (ablation.problems); index.json lists their files
ABLATION := $(R)/ablation/index.json
PROBLEM_REPORTS := $(PROBLEMS:%=$(RP)/problem-%.ipynb)
STRATEGY_REPORTS := $(STRATEGIES:%=$(RP)/strategy-%.ipynb)
ANALYSIS := $(RP)/analysis.ipynb
NOTEBOOKS := $(PROBLEM_REPORTS) $(STRATEGY_REPORTS) $(ANALYSIS)
INDEX := $(RP)/index.html
PDF := $(BUILD)/main.pdf
SUPPLEMENT := $(BUILD)/supplement.pdf

# The stage settings: `alnn config` writes results/<profile>/config/*.json, rewriting only the files whose
# content changed. It runs while the Makefile is read, whenever a file of lib/alnn (code or profiles) is newer
# than its last run, so that every make (-n and -q too) sees the settings in force; on a fresh clone the
# rule of $(CONFIGS) runs it once .venv is set up.
CONFIG_CHECKED := $(R)/config/.checked
ifneq ($(and $(NEEDS_RESULTS),$(wildcard $(STAMP))),)
ifneq ($(shell test -e '$(CONFIG_CHECKED)' && test -z "$$(find lib/alnn \( -name '*.py' -o -name '*.toml' \) \
         -newer '$(CONFIG_CHECKED)' -print -quit)" && echo same),same)
ifneq ($(shell $(CLI) config --profile $(PROFILE) --results '$(RESULTS)' && touch '$(CONFIG_CHECKED)' && echo ok),ok)
$(error alnn config --profile $(PROFILE) failed (its message is above))
endif
endif
endif

# TeX Live: `tex` checks for it (and installs it on Debian as root); the paper needs that step only when it
# is missing (with it, nothing runs).
TEX_NEEDED := $(if $(NEEDS_RESULTS),$(if $(and $(shell command -v latexmk),$(shell kpsewhich IEEEtran.cls 2>/dev/null)),,tex))

# Library code the notebooks draw with (the engine is covered by the config files).
NB_LIB := lib/alnn/config.py lib/alnn/store.py lib/alnn/figures.py lib/alnn/analysis.py lib/alnn/stats.py
ANALYSIS_LIB := $(NB_LIB) lib/alnn/stats.py $(wildcard lib/alnn/report/*.py) lib/alnn/references.toml
PAPER_SRC := paper/main.tex paper/references.bib $(wildcard paper/sections/*.tex)
SUPPLEMENT_SRC := paper/supplement.tex paper/references.bib paper/architecture.tex

##@ Main jobs
.PHONY: help
help: ## List the targets people use
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z0-9_. %-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@printf '\nSettings: PROFILE=%s (smoke|quick|full)  EXECUTOR=%s (local|dask)  SCHEDULER=%s  DEVICE=%s (cpu|cuda)  WORKERS=%s\n' \
	  '$(PROFILE)' '$(EXECUTOR)' '$(SCHEDULER)' '$(DEVICE)' '$(WORKERS)'

# The stages run one at a time (each spreads its shards over the local pool); then the notebooks, each a
# single-threaded Python process, NOTEBOOK_JOBS at a time (default: the machine's cores), the analysis
# notebook (the longest) first; then LaTeX. The recipe holds only sub-makes, which -q and -n run too, so
# `make -q paper` answers for the whole graph.
# Under -B (remake all) or -n (dry run) the notebooks are left to the last step, so each runs (or is
# listed) once. SERIAL_NOTEBOOKS is expanded when a recipe runs (=, not :=): only then does MAKEFLAGS
# start with the single-letter flags (while the Makefile is read it holds "--no-builtin-rules",
# whose n would read as -n).
NOTEBOOK_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SERIAL_NOTEBOOKS = $(findstring B,$(firstword -$(MAKEFLAGS)))$(findstring n,$(firstword -$(MAKEFLAGS)))
.PHONY: paper results
results: $(DATA) $(GRID) $(TRIALS) $(DIAGNOSTICS) $(BUDGET) $(ABLATION)
paper: $(STAMP) $(TEX_NEEDED) ## Everything: results, reports, paper/main.pdf and paper/supplement.pdf (PROFILE=quick by default)
	@$(MAKE) --no-print-directory results
	$(if $(SERIAL_NOTEBOOKS),,@$(MAKE) --no-print-directory -s -j$(NOTEBOOK_JOBS) paper-notebooks)
	@$(MAKE) --no-print-directory -s paper-files

# The notebooks' step of `make paper` (a target of its own: a notebook asked for by name also writes the
# index page, these leave it to the last step)
.PHONY: paper-notebooks
paper-notebooks: $(ANALYSIS) $(filter-out $(ANALYSIS),$(NOTEBOOKS))

# paper/main.pdf and paper/supplement.pdf: copies of the PDFs of the profile made last (copied again when
# they differ from this profile's)
.PHONY: paper-files
paper-files: paper/main.pdf paper/supplement.pdf $(INDEX)
differs = $(if $(shell cmp -s '$1' '$2' && echo same),,FORCE)
paper/main.pdf: $(PDF) $(call differs,$(PDF),paper/main.pdf)
paper/supplement.pdf: $(SUPPLEMENT) $(call differs,$(SUPPLEMENT),paper/supplement.pdf)
paper/main.pdf paper/supplement.pdf:
	@cp $< $@.tmp && mv -f $@.tmp $@
	@echo "$@: profile $(PROFILE) ($<); reports: $(INDEX)"

##@ Stages (each also runs the ones it needs)
.PHONY: config data grid trials budget ablation notebooks reports analysis
config: $(CONFIGS) ## Validate the profile; write the settings each stage depends on
data: $(DATA) ## Data descriptions: results/<profile>/data/
grid: $(GRID) ## Grid search of every problem: results/<profile>/grid/
trials: $(TRIALS) ## Trials of every problem x strategy: results/<profile>/trials/
budget: $(BUDGET) ## Budget protocol (labels against quality) of every problem x strategy: results/<profile>/budget/
ablation: $(ABLATION) ## Controls and ablations (SPEC 3d) of the problems the profile covers: results/<profile>/ablation/
notebooks reports: $(INDEX) ## Execute every notebook (papermill) into reports/<profile>/, with HTML and index.html
analysis: $(ANALYSIS) ## Tables, statistics and figures of the paper (paper/generated/<profile>/, figures/<profile>/)

# A fresh clone's stage settings (or a missing one): written once .venv is set up (see CONFIG_CHECKED).
$(CONFIGS) &: | $(STAMP)
	$(if $(filter cuda,$(DEVICE)),@m=$$($(PY) -c '$(CUDA_PROBLEM)' 2>&1 || true); [ -z "$$m" ] || { echo "make: *** $$m" >&2; exit 1; })
	@$(CLI) config --profile $(PROFILE) --results '$(RESULTS)' && touch '$(CONFIG_CHECKED)'

$(R)/data/%.json: $(R)/config/data-%.json
	$(CLI) data --profile $(PROFILE) --results '$(RESULTS)' --problem $*

define GRID_RULE
$(R)/grid/$1.parquet $(R)/grid/$1.json &: $(R)/config/grid-$1.json $(R)/data/$1.json
	$$(CLI) grid --profile $(PROFILE) --results '$(RESULTS)' --problem $1 $$(RUN)
endef
$(foreach p,$(PROBLEMS),$(eval $(call GRID_RULE,$p)))

# One call per problem: the shards of all its strategies share one worker pool.
define TRIALS_RULE
$(call trials_of,$1) $(call diagnostics_of,$1) &: $(R)/grid/$1.json $(R)/data/$1.json \
    $(foreach s,$(call strategies_of,$1),$(R)/config/trials-$1-$s.json)
	$$(CLI) trials --profile $(PROFILE) --results '$(RESULTS)' --problem $1 $$(RUN)
endef
$(foreach p,$(PROBLEMS),$(eval $(call TRIALS_RULE,$p)))

# The budget protocol (SPEC 3b): one call per problem, all its strategies' shards in one pool.
define BUDGET_RULE
$(call budget_of,$1) &: $(R)/grid/$1.json $(R)/data/$1.json \
    $(foreach s,$(call budget_strategies_of,$1),$(R)/config/budget-$1-$s.json)
	$$(CLI) budget --profile $(PROFILE) --results '$(RESULTS)' --problem $1 $$(RUN)
endef
$(foreach p,$(PROBLEMS),$(eval $(call BUDGET_RULE,$p)))

# Controls and ablations (SPEC 3d): one call, the shards of every covered problem in one pool.
$(ABLATION): $(R)/config/ablation.json $(GRID) $(DATA)
	$(CLI) ablation --profile $(PROFILE) --results '$(RESULTS)' $(RUN)

# $(call notebook,SOURCE,OUTPUT,PARAMETERS): papermill into OUTPUT's .part.ipynb, renamed when it
# succeeds, then its HTML page beside it; a notebook asked for by name (make reports/quick/problem-iris.ipynb)
# also brings the index page up to date. A failed notebook keeps its partial output as OUTPUT's
# .failed.ipynb and stops make. (The kernel's warning about unencrypted local TCP is filtered out.)
define notebook
	@mkdir -p $(RP)/figures
	@rm -f $2 $(2:.ipynb=.failed.ipynb)
	@echo "papermill $1 -> $2"
	@$(PAPERMILL) $1 $(2:.ipynb=.part.ipynb) $3 2> >(grep -v 'Kernel is running over TCP' >&2) \
	  || { mv -f $(2:.ipynb=.part.ipynb) $(2:.ipynb=.failed.ipynb) 2>/dev/null || true; \
	       echo "make: *** notebook $(notdir $2) failed; partial output in $(2:.ipynb=.failed.ipynb)" >&2; exit 1; }
	@mv -f $(2:.ipynb=.part.ipynb) $2
	@$(CLI) reports --profile $(PROFILE) $(if $(filter $2,$(MAKECMDGOALS)),--stale --index $(INDEX) \
	  --generated $(GEN) --figures $(FIG) $(filter $2 $(wildcard $(NOTEBOOKS)),$(NOTEBOOKS)),$2)
endef

$(RP)/problem-%.ipynb $(RP)/figures/grid-%.png $(RP)/figures/budget-%.png: notebooks/problem.ipynb $(R)/data/%.json \
    $(R)/grid/%.parquet $(R)/grid/%.json $(R)/budget/%/passive.parquet $(R)/budget/%/random.parquet $(NB_LIB)
	$(call notebook,notebooks/problem.ipynb,$(RP)/problem-$*.ipynb,-r profile $(PROFILE) -r problem $* \
	  -r data $(R)/data/$*.json -r grid_table $(R)/grid/$*.parquet -r grid_winner $(R)/grid/$*.json \
	  -r heatmap $(RP)/figures/grid-$*.png -r budget_curves $(RP)/figures/budget-$*.png -p run_budget False)

define STRATEGY_RULE
$(RP)/strategy-$1.ipynb $(RP)/figures/curves-$1.png $(RP)/figures/subset-$1.png $(RP)/figures/budget-$1.png &: \
    notebooks/strategy.ipynb \
    $(foreach p,$(call problems_of,$1),$(R)/trials/$p/passive.parquet $(R)/trials/$p/$1.parquet \
      $(R)/diagnostics/$p/$1.parquet $(R)/data/$p.json \
      $(if $(filter $1,$(BUDGET_STRATEGIES)),$(R)/budget/$p/$1.parquet $(R)/budget/$p/random.parquet \
        $(R)/budget/$p/passive.parquet)) $(NB_LIB)
	$$(call notebook,notebooks/strategy.ipynb,$(RP)/strategy-$1.ipynb,-r profile $(PROFILE) -r strategy $1 \
	  -r results $(R) -r curves $(RP)/figures/curves-$1.png -r subset $(RP)/figures/subset-$1.png \
	  -r budget_curves $(RP)/figures/budget-$1.png)
endef
$(foreach s,$(STRATEGIES),$(eval $(call STRATEGY_RULE,$s)))

$(ANALYSIS): notebooks/analysis.ipynb $(DATA) $(GRID) $(TRIALS) $(BUDGET) $(ABLATION) $(R)/diagnostics/iris/sasla.parquet $(ANALYSIS_LIB)
	$(call notebook,notebooks/analysis.ipynb,$@,-r profile $(PROFILE) -r results $(R) \
	  -r generated $(GEN) -r figures $(FIG))

# Each notebook's HTML page (made with the notebook; again if it goes missing). The index page shows the
# analysis notebook's tables and figures (copied into $(RP)/site/).
$(NOTEBOOKS:.ipynb=.html): $(RP)/%.html: $(RP)/%.ipynb
	@$(CLI) reports --profile $(PROFILE) $<
$(INDEX): $(NOTEBOOKS:.ipynb=.html) lib/alnn/cli.py lib/alnn/site.py $(wildcard $(GEN)/*.csv $(FIG)/*.png)
	$(CLI) reports --profile $(PROFILE) --stale --index $(INDEX) --generated $(GEN) --figures $(FIG) $(NOTEBOOKS)

# LaTeX: generated files and figures of this profile come first on TEXINPUTS; errors show the log's lines.
# $(call latexmk,NAME,OUT): latexmk paper/NAME.tex into $(BUILD), its output in $(BUILD)/OUT. latexmk leaves
# a PDF whose sources did not change as it is: touched, it is newer than what make remade it for.
define latexmk
	@mkdir -p $(BUILD)
	@echo "latexmk paper/$1.tex -> $(BUILD)/$1.pdf"
	@cd paper && TEXINPUTS=$(CURDIR)/$(GEN)//:$(CURDIR)/$(FIG)//: latexmk -pdf -interaction=nonstopmode \
	    -halt-on-error -file-line-error -outdir=$(CURDIR)/$(BUILD) $1.tex > $(CURDIR)/$(BUILD)/$2 2>&1 \
	  || { echo "make: *** LaTeX failed on paper/$1.tex (profile $(PROFILE)); from $(BUILD)/$1.log:" >&2; \
	       grep -E -A4 '^(!|[^ ]+:[0-9]+: )' $(CURDIR)/$(BUILD)/$1.log | head -40 >&2 || tail -20 $(CURDIR)/$(BUILD)/$2 >&2; \
	       exit 1; }
	@touch $(BUILD)/$1.pdf
endef

# The supplement first: main.tex reads its labels from $(BUILD)/supplement.aux (xr-hyper).
$(SUPPLEMENT): $(SUPPLEMENT_SRC) $(ANALYSIS) | $(TEX_NEEDED)
	$(call latexmk,supplement,latexmk-supplement.out)

$(PDF): $(PAPER_SRC) $(SUPPLEMENT) $(ANALYSIS) | $(TEX_NEEDED)
	$(call latexmk,main,latexmk.out)

.PHONY: tex
tex: ## Check for LaTeX (latexmk, IEEEtran); installs it with apt-get on Debian as root
	@if command -v latexmk >/dev/null && kpsewhich IEEEtran.cls >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing TeX Live for the paper (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq latexmk texlive-latex-base \
	    texlive-latex-recommended texlive-latex-extra texlive-publishers texlive-fonts-recommended poppler-utils; \
	else \
	  echo "make: *** the paper needs latexmk and IEEEtran.cls: install TeX Live (Debian/Ubuntu: latexmk texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-publishers texlive-fonts-recommended)" >&2; \
	  exit 1; \
	fi

.PHONY: chromium
chromium: ## Check for headless Chromium (tests/test_site.py renders the index page); installs it with apt-get on Debian as root
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Chromium for the index page's browser test (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else \
	  echo "make: *** the tests render reports/<profile>/index.html in headless Chromium: install it (Debian/Ubuntu: chromium chromium-driver)" >&2; \
	  exit 1; \
	fi

.PHONY: FORCE
FORCE:

# make print-PROBLEMS: the value of a variable (tests read the Makefile's lists this way)
print-%:
	@echo '$($*)'

##@ Working on it
.PHONY: lab bench clean
# As root (containers, CI) JupyterLab needs --allow-root; LAB_ARGS passes anything else, e.g.
# make lab LAB_ARGS='--no-browser --port=8899 --ip=0.0.0.0'. It prints the address with its token.
LAB_ARGS ?=
lab: $(STAMP) ## JupyterLab on notebooks/ (their defaults read the newest profile with results; LAB_ARGS='...')
	@echo "JupyterLab on notebooks/: open the http://localhost:...?token=... address it prints below; Ctrl-C stops it"
	exec $(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

bench: $(STAMP) ## Engine benchmark (bench/bench.py)
	$(PY) bench/bench.py

clean: ## Delete the generated files of one profile (PROFILE=...); the raw-data cache stays
	rm -rf $(R) $(RP) $(FIG) $(GEN) $(BUILD)

##@ Set-up
.PHONY: setup
setup: $(STAMP) ## Create .venv and install the pinned package (once)

$(STAMP): pyproject.toml
	@$(PYTHON_BOOT) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "alnn needs Python >= 3.11; found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

##@ Tests
.PHONY: test
test: $(STAMP) tex chromium ## Run the test suite (sets everything up first, TeX Live and Chromium included)
	$(PY) -m pytest -q
