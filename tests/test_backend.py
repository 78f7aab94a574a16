"""Keras backends: choosing one, what a run records, and TensorFlow kept out of JAX runs.

CI installs JAX (`make test` sets up `.[dev,jax]`), so the JAX tests always run there; the
PyTorch ones run where torch is installed (README, "Backends and GPUs") and are skipped
elsewhere. Every training here is tiny (one epoch, a few thousand real rows): these tests
are about what works on which backend, not about accuracy or speed (bench/README.md).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from kaggle_digits import backend
from kaggle_digits.errors import KdigitsError

QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
OTHERS = [pytest.param(name, marks=pytest.mark.skipif(
    importlib.util.find_spec(name) is None, reason=f"{name} is not installed"))
    for name in ("jax", "torch")]

# The real command line, run by `main` in a process that reports at exit whether TensorFlow
# was ever imported (atexit runs after main's sys.exit).
CLI_REPORTING_TF = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('tensorflow imported:', 'tensorflow' in sys.modules))\n"
    "sys.argv = ['kdigits', *sys.argv[1:]]\n"
    "from kaggle_digits.cli import main\n"
    "main()\n")


def python(*args: str, env: dict[str, str] | None = None,
           timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter in the repository, with ``env`` on top of this one's (minus any
    KERAS_BACKEND: each test says which backend it wants)."""
    base = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          env={**base, **QUIET, **(env or {})}, timeout=timeout)


def kdigits_reporting_tf(*args: str, cache: Path) -> tuple[subprocess.CompletedProcess[str],
                                                           bool]:
    result = python("-c", CLI_REPORTING_TF, *args, env={"KDIGITS_CACHE_DIR": str(cache)})
    lines = result.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("tensorflow imported:"), result.stderr[-3000:]
    result.stdout = "\n".join(lines[:-1])
    return result, lines[-1].endswith("True")


# --- choosing a backend ------------------------------------------------------------------

@pytest.mark.parametrize("how", [["--backend", "mxnet"], ["KERAS_BACKEND=mxnet"]])
def test_an_unknown_backend_is_one_line_and_exit_2(how: list[str], tmp_path: Path) -> None:
    env = dict(item.split("=", 1) for item in how if "=" in item)
    result = python("-m", "kaggle_digits", *[a for a in how if "=" not in a], "models",
                    "--model", "cnn",  # a command that loads Keras
                    env={**env, "KDIGITS_CACHE_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: unknown Keras backend 'mxnet' (KERAS_BACKEND or "
                                     "--backend); choose one of: tensorflow, jax, torch")


def test_a_backend_that_is_not_installed_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "keras", raising=False)  # as before Keras is imported
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jax" else real(name, *a))
    with pytest.raises(KdigitsError, match=r"^the jax backend is not installed: pip install "
                                           r"'kaggle-digits\[jax\]'"):
        backend.require()


def test_the_backend_is_read_as_keras_reads_it(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert backend.name() == "tensorflow"  # Keras' default
    (tmp_path / "keras.json").write_text('{"backend": "torch"}')
    assert backend.name() == "torch"  # the user's keras.json
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert backend.name() == "jax"  # the variable wins, as in Keras


def test_the_cpu_is_reported_with_the_threads_the_libraries_were_given(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "3")
    assert backend.cpu() == "CPU (3 threads)"
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    assert backend.cpu() == "CPU (1 thread)"
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "many")  # not a count
    assert backend.cpu() == backend.cpu(backend.usable_cpus())
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS")
    assert backend.cpu() == f"CPU ({backend.usable_cpus()} thread" + (
        "s)" if backend.usable_cpus() != 1 else ")")
    assert backend.cpu(5) == "CPU (5 threads)"


def test_resume_adopts_the_recorded_backend_unless_another_was_chosen() -> None:
    script = ("from kaggle_digits import backend\n"
              "from kaggle_digits.errors import KdigitsError\n"
              "try:\n"
              "    print(backend.adopt('jax'))\n"
              "except KdigitsError as error:\n"
              "    print(error)\n")
    assert python("-c", script).stdout.strip() == "jax"
    assert python("-c", script, env={"KERAS_BACKEND": "torch"}).stdout.strip() == (
        "this run trained on jax, but the backend now is torch; resume it with --backend jax")
    assert python("-c", script, env={"KERAS_BACKEND": "jax"}).stdout.strip() == "jax"


# --- every verb on JAX (and PyTorch), without TensorFlow -----------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", OTHERS)
def test_cv_then_submit_with_tta_run_on_the_backend_without_tensorflow(
        name: str, sample_files: dict, tmp_path: Path) -> None:
    """The issue's CI case: one small cv and one submit from its fold models (loaded from
    .keras files, with test-time augmentation), never importing TensorFlow."""
    cache = tmp_path / "cache"
    cv, tf_loaded = kdigits_reporting_tf(
        "--backend", name, "cv", "--model", "cnn-fast", "--train", str(sample_files["train"]),
        "--folds", "2", "--percent", "50", "--epochs", "1", "--runs-dir", str(tmp_path / "runs"),
        cache=cache)
    assert cv.returncode == 0, cv.stderr[-3000:]
    assert not tf_loaded
    assert "TensorFlow" not in cv.stderr and "oneDNN" not in cv.stderr
    config = json.loads((Path(cv.stdout.splitlines()[-1]) / "config.json").read_text())
    assert config["backend"] == name and config["device"]
    assert f"backend: {name} on {config['device']}" in cv.stdout
    assert config["versions"][name] == importlib.metadata.version(name)
    run_dir = Path(cv.stdout.splitlines()[-1])
    assert sorted(p.name for p in (run_dir / "models").iterdir()) == ["fold-1.keras",
                                                                      "fold-2.keras"]

    out = tmp_path / "submission.csv"
    submit, tf_loaded = kdigits_reporting_tf(
        "--backend", name, "submit", "--run", str(run_dir), "--tta",
        "--train", str(sample_files["train"]), "--test", str(sample_files["test"]),
        "--out", str(out), cache=cache)
    assert submit.returncode == 0, submit.stderr[-3000:]
    assert not tf_loaded
    assert f"({name} on {config['device']})" in submit.stdout
    record = json.loads(out.with_suffix(".json").read_text())
    assert (record["backend"], record["device"], record["tta"]) == (name, config["device"], True)
    assert record["score"]["rows"] == 1000
    valid = python("-m", "kaggle_digits", "validate", str(out), "--test",
                   str(sample_files["test"]))
    assert valid.returncode == 0 and valid.stdout.startswith("OK"), valid.stderr


SEEDED_FITS = """
import json, sys
import numpy as np
from kaggle_digits import train
from kaggle_digits.data import load_train

digits = load_train(sys.argv[1])
x, y, test = digits.pixels[:1500], digits.labels[:1500], digits.pixels[2000:2300]

def fitted(seed):
    config = train.with_seed(train.config_for("cnn-fast", epochs=1), seed)
    return train.fit("cnn-fast", x, y, config)

model = fitted(3)
first, again, other = (model.predict_proba(test), fitted(3).predict_proba(test),
                       fitted(4).predict_proba(test))
import keras
from kaggle_digits.models import get_preset

net = model.members[0]
shift = next(layer for layer in net.layers if type(layer).__name__ == "RandomTranslation")
best = get_preset("best").keras_model()
best.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
print(json.dumps({"backend": keras.backend.backend(),
                  "same": bool(np.array_equal(first, again)),
                  "differs": float(np.abs(first - other).max()),
                  "compiled": [net.jit_compile, best.jit_compile],
                  "shift_draws": int(np.asarray(shift.generator.state.value)[1:].sum()),
                  "tensorflow": "tensorflow" in sys.modules}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", OTHERS)
def test_one_seed_gives_one_model_on_the_cpu(name: str, sample_files: dict,
                                             tmp_path: Path) -> None:
    """cnn-fast (augmentation, dropout, shuffling) fitted twice with one seed predicts the
    same to the bit; another seed predicts differently.

    On JAX the training step is compiled although Keras marks the shift/turn/zoom layers
    uncompilable (left so, it trained cnn-fast and best op by op: on a GPU, slower than
    the CPU), and the compiled step still draws new shifts for each of its 12 batches."""
    result = python("-c", SEEDED_FITS, str(sample_files["train"]),
                    env={"KERAS_BACKEND": name, "KDIGITS_CACHE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {**report, "backend": name, "same": True, "tensorflow": False}
    assert report["differs"] > 1e-3
    assert report["shift_draws"] >= 12  # 1,500 rows at batch 128
    if name == "jax":
        assert report["compiled"] == [True, True]  # cnn-fast as trained, and best
        # the training step compiled once, kept in kdigits' cache for the next fits
        assert list((tmp_path / "jax-compilations").glob("jit_train_step-*"))


LOAD_AND_PREDICT = """
import sys
import numpy as np
import keras
from kaggle_digits.train import load_trained

model = load_trained(sys.argv[1])
np.save(sys.argv[3], model.predict_proba(np.load(sys.argv[2])))
print(keras.backend.backend())
"""


@pytest.mark.parametrize("name", ["tensorflow", *OTHERS])
def test_a_saved_model_predicts_the_same_on_another_backend(
        name: str, train_sample: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    """.keras files are backend-neutral: a model trained here (TensorFlow, unless the suite
    runs on another backend) gives the same probabilities when loaded on ``name``."""
    from kaggle_digits import train

    pixels, labels = train_sample
    config = train.config_for("mlp", epochs=3)
    trained = train.fit("mlp", pixels[:2000], labels[:2000], config)
    path = trained.save(tmp_path / "mlp.keras")
    np.save(tmp_path / "test.npy", pixels[2000:2500])
    here = trained.predict_proba(pixels[2000:2500])
    assert (here.argmax(axis=1) == labels[2000:2500]).mean() > 0.85  # a model worth comparing

    result = python("-c", LOAD_AND_PREDICT, str(path), str(tmp_path / "test.npy"),
                    str(tmp_path / "there.npy"), env={"KERAS_BACKEND": name})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == name
    np.testing.assert_allclose(np.load(tmp_path / "there.npy"), here, atol=2e-5)
