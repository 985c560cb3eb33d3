# Two commands do everything on a fresh machine (Python 3.11, pip reaching PyPI):
#   make book   - create .venv, run every experiment notebook at the cpu profile, build the HTML book
#   make test   - create .venv, run pytest, nbval over notebooks/ at the ci profile, build the book at ci
#                 and read it in headless Chromium (installed from the package manager when missing)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONHASHSEED := 0
PROFILE ?= cpu
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: book test nbval nbval-trial venv run-notebooks html clean clean-results notebooks bench check-html check-fresh-clone browser check-browser

venv: $(STAMP)

$(STAMP): requirements.txt requirements-lock.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11; torch==2.14.1 is installed by pip from files for 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -c requirements-lock.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mae-study)" >/dev/null
	touch $(STAMP)

# Run every experiment notebook with papermill at $(PROFILE); finished runs are read back, not redone.
run-notebooks: $(STAMP)
	@mkdir -p data/results/$(PROFILE)/_notebooks
	@for nb in $(NOTEBOOKS); do \
	  echo "== papermill $$nb (profile $(PROFILE))"; \
	  $(PY) -m papermill --log-level WARNING "$$nb" "data/results/$(PROFILE)/_notebooks/$$(basename $$nb)" -p profile $(PROFILE) || exit 1; \
	done

html: $(STAMP)
	MAE_STUDY_BOOK_PROFILE=$(PROFILE) $(VENV)/bin/jupyter-book build -W -n --keep-going --path-output _build/$(PROFILE) .
	@echo "book: _build/$(PROFILE)/_build/html/index.html"

book: $(STAMP)
	$(MAKE) run-notebooks html PROFILE=cpu

# nbval runs every notebook at the ci profile and compares the cells marked `# NBVAL_CHECK_OUTPUT`
# with their stored outputs. Those cells print a verdict of `mae_study.report.ci_check`: the notebook's
# results against notebooks/ci_expected/*.json within stated tolerances (exact for counts, 3 test
# images for accuracies, 2e-3 relative for losses), so the text is the same on any CPU while the
# results stay within them. The ci results are computed afresh (as on a clean clone) so that stale
# runs cannot hide a change, and under other float kernels than the machine that stored them most
# likely used (AVX2, one thread: NBVAL_ENV), so a result that depends on one CPU's rounding fails
# here, where it is made, and not on the next machine.
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg -p no:cacheprovider
NBVAL_ENV ?= ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=1

test: $(STAMP)
	rm -rf data/results/ci
	MAE_STUDY_PROFILE=ci $(PY) -m pytest -q --durations=20 tests --ignore=tests/book
	$(MAKE) nbval nbval-trial
	$(MAKE) html check-html check-browser PROFILE=ci
	$(MAKE) check-fresh-clone

# The notebooks against their stored ci results (see NBVAL above); `make nbval NBVAL_ENV=` runs
# them with this machine's own kernels and threads.
nbval: $(STAMP)
	rm -rf data/results/ci
	$(NBVAL_ENV) MAE_STUDY_CI_CHECK=1 MAE_STUDY_PROFILE=ci $(PY) -m pytest -q --durations=20 $(NBVAL) $(NOTEBOOKS)

# ...and the check can fail: a one-line change of the MAE loss must fail notebook 02's cell.
nbval-trial: $(STAMP)
	NBVAL_ENV="$(NBVAL_ENV)" tools/nbval_trial.sh

# The built book shows no raw object repr, missing image, broken link or unrendered formula.
check-html: $(STAMP)
	MAE_STUDY_HTML=_build/$(PROFILE)/_build/html $(PY) -m pytest -q -p no:cacheprovider tests/book

# The built book read in headless Chromium, offline, at a laptop's screen size: every formula typeset
# by MathJax without an error, no console error, every image decoded, no table wider than the text
# column, Japanese and Korean drawn with the book's own font; then a copy with one broken formula
# must fail (tools/browser_check.py). `make browser` installs Chromium when the machine has none.
browser:
	tools/install_chromium.sh

check-browser: $(STAMP) browser
	$(PY) tools/browser_check.py --trial _build/$(PROFILE)/_build/html

# `make book` on a clean checkout of the committed tree (no weights, no untracked files) builds the
# cpu book from the committed results and computes nothing.
check-fresh-clone: $(STAMP)
	tools/check_fresh_clone.sh

# Regenerate notebooks/*.ipynb from their percent-format sources in notebooks/src, store their
# outputs at the ci profile (computed in a fresh results folder, as nbval in `make test` does) and
# record the checked results in notebooks/ci_expected/ (MAE_STUDY_RECORD_CI=1); the shell lists
# the notebooks after py2nb, so a new source is executed on the first call.
notebooks: $(STAMP)
	$(PY) tools/py2nb.py
	tmp=$$(mktemp -d) && for nb in notebooks/*.ipynb; do \
	  echo "== executing $$nb at the ci profile"; \
	  MAE_STUDY_RECORD_CI=1 MAE_STUDY_PROFILE=ci MAE_STUDY_RESULTS=$$tmp $(VENV)/bin/jupyter execute --inplace "$$nb" || exit 1; \
	done; rm -rf $$tmp

bench: $(STAMP)
	$(PY) -m pip install -q -r benchmarks/requirements.txt -c requirements-lock.txt || echo "lightly did not install: bench_pretrain skips model (c)"
	$(PY) benchmarks/bench_fractals.py
	$(PY) benchmarks/bench_pretrain.py

clean:
	rm -rf _build data/results/ci

# Removes this profile's results so that `make book` recomputes every number.
clean-results:
	rm -rf data/results/$(PROFILE)
