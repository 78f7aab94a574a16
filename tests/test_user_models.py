"""Your own model (`--model FILE.py:FUNCTION`) through cv, submit and models, on real digits."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_digits import user_models
from kaggle_digits.errors import KdigitsError
from kaggle_digits.models import keras_name

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "my_model.py"

MLP = '''
import keras
from keras import layers

RECIPE = {"optimizer": "adam", "learning_rate": 3e-3, "epochs": 2, "batch_size": 64}


def tiny(width: int = 64):
    return [keras.Input((784,)), layers.Dense(width, activation="relu"),
            layers.Dense(10, activation="softmax")]


def functional():
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))
'''


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.py"
    path.write_text(MLP)
    return path


def test_layers_model_and_recipe_are_read_from_the_file(model_file):
    preset = user_models.get_model(f"{model_file}:tiny")
    assert preset.kind == "mlp" and preset.is_keras
    assert (preset.recipe.optimizer, preset.recipe.epochs, preset.recipe.batch_size) == (
        "adam", 2, 64)
    assert preset.options() == {"width": 64}
    assert preset.keras_model().output_shape == (None, 10)
    functional = user_models.get_model(f"{model_file}:functional")
    assert functional.kind == "cnn"
    assert functional.keras_model().input_shape == (None, 28, 28, 1)
    assert user_models.short_name(f"{model_file}:tiny") == "mine-tiny"


def test_package_module_function_works_too(model_file, monkeypatch):
    monkeypatch.syspath_prepend(str(model_file.parent))
    preset = user_models.get_model("mine:tiny")
    assert preset.kind == "mlp" and preset.file.path == str(model_file.resolve())
    assert preset.options() == {"width": 64}  # layer options for tune, as for a file
    sys.modules.pop("mine", None)


def test_an_edited_file_is_imported_afresh(model_file):
    before = user_models.get_model(f"{model_file}:tiny")
    model_file.write_text(MLP.replace('"epochs": 2', '"epochs": 3'))
    after = user_models.get_model(f"{model_file}:tiny")
    assert (before.recipe.epochs, after.recipe.epochs) == (2, 3)
    assert before.file.sha256 != after.file.sha256


@pytest.mark.parametrize("source, function, message", [
    (None, "tiny", r"no such file"),
    ("def tiny(:\n", "tiny", r"does not import: SyntaxError.*\(line 1\)"),
    ("import no_such_package_here\n", "tiny", r"does not import: ModuleNotFoundError"),
    ("def other():\n    return []\n", "tiny", r"has no function tiny \(functions there: other\)"),
    ("def tiny():\n    raise RuntimeError('boom')\n", "tiny",
     r"tiny\(\) raised RuntimeError: boom \(line 2\)"),
    ("import keras\ndef tiny():\n    return [keras.Input((784,)), keras.layers.Dense(5)]\n",
     "tiny", r"output shape \(5,\); kdigits needs 10 class probabilities"),
    ("import keras\ndef tiny():\n    return [keras.Input((32, 32, 3)), keras.layers.Flatten(),"
     " keras.layers.Dense(10)]\n", "tiny", r"input shape \(32, 32, 3\) is neither"),
    ("def tiny():\n    return 42\n", "tiny", r"returned int; return a list of Keras layers"),
    ("RECIPE = {'epoch': 3}\ndef tiny():\n    return []\n", "tiny",
     r"unknown RECIPE keys epoch"),
    ("def tiny():\n    return []\n", "tiny:extra", r"expected FILE.py:FUNCTION or"),
    ("import keras\ndef tiny():\n    return keras.Sequential([keras.Input((784,)), "
     "keras.layers.Dense(10, activation='softmax')], name='my net')\n", "tiny",
     r"TensorFlow cannot train a layer or model named 'my net'"),
    ("import keras\ndef tiny():\n    return [keras.Input((784,)), keras.layers.Dense(10)]\n",
     "tiny", r"outputs are not class probabilities .*Dense\(10, activation='softmax'\)"),
])
def test_a_broken_model_file_is_one_clear_line(tmp_path, source, function, message):
    path = tmp_path / "broken.py"
    if source is not None:
        path.write_text(source)
    with pytest.raises(KdigitsError, match=message) as caught:
        user_models.get_model(f"{path}:{function}")
    assert "\n" not in str(caught.value)
    assert len(re.findall(r"line \d", str(caught.value))) <= 1  # a syntax error's line once


def test_cli_refuses_a_broken_model_before_any_run_folder(kd, tmp_path, sample_files):
    broken = tmp_path / "broken.py"
    broken.write_text("import keras\ndef net():\n    return [keras.Input((784,)), "
                      "keras.layers.Dense(3, activation='softmax')]\n")
    runs = tmp_path / "runs"
    code, out, err = kd("cv", "--model", f"{broken}:net", "--train", str(sample_files["train"]),
                        "--runs-dir", str(runs))
    assert code == 2, out + err
    (line,) = err.strip().splitlines()
    assert line.startswith("error: --model") and "output shape (3,)" in line
    assert not runs.exists()


def test_cv_and_submit_with_your_own_model(kd, tmp_path, sample_files, model_file):
    """A run folder records the file, its SHA-256 and its text; submit records them too;
    the CLI's options still override the file's RECIPE."""
    runs = tmp_path / "runs"
    code, out, err = kd("cv", "--model", f"{model_file}:tiny", "--train",
                        str(sample_files["train"]), "--folds", "2", "--epochs", "1",
                        "--runs-dir", str(runs))
    assert code == 0, out + err
    (run,) = runs.iterdir()
    assert run.name.endswith("-mine-tiny")
    config = json.loads((run / "config.json").read_text())
    assert config["model_file"]["sha256"] == user_models.get_model(
        f"{model_file}:tiny").file.sha256
    assert (run / "model_source.py").read_text() == MLP
    assert config["training"]["epochs"] == 1 and config["training"]["batch_size"] == 64
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["oof"]["overall"]["accuracy"] > 0.7  # a tiny MLP, 1 epoch, 1,350 rows

    out = tmp_path / "mine.csv"
    code, shown, err = kd("submit", "--run", str(run), "--test", str(sample_files["test"]),
                          "--train", str(sample_files["train"]), "--out", str(out))
    assert code == 0, shown + err
    assert len(pd.read_csv(out)) == 1000

    model_file.write_text(MLP + "\n# edited\n")  # resuming against another file is refused
    (run / "metrics.json").unlink()
    code, _, err = kd("cv", "--resume", str(run))
    assert code == 2 and "has changed since" in err


HALVES = '''
import keras
from keras import layers

RECIPE = {"optimizer": "adam", "learning_rate": 3e-3, "epochs": 1, "batch_size": 64}


class Halve(layers.Layer):
    """A layer class of the user's own, not registered with Keras."""

    def call(self, x):
        return x * 0.5


def halved():
    return [keras.Input((784,)), Halve(), layers.Dense(32, activation="relu"),
            layers.Dense(10, activation="softmax")]
'''


def test_a_runs_fold_models_predict_with_the_file_the_run_kept(kd, tmp_path, sample_files):
    """The fold models of a run hold the user's own layer class, which Keras finds in the
    run's copy of the file: `submit --run` predicts with them after the file is edited or
    gone, and records the copy; a refit from the edited file is refused, as a resume is."""
    path = tmp_path / "halves.py"
    path.write_text(HALVES)
    runs = tmp_path / "runs"
    code, out, err = kd("cv", "--model", f"{path}:halved", "--train",
                        str(sample_files["train"]), "--folds", "2", "--runs-dir", str(runs))
    assert code == 0, out + err
    (run,) = runs.iterdir()
    data = ("--train", str(sample_files["train"]), "--test", str(sample_files["test"]),
            "--solution", str(sample_files["solution"]))

    path.write_text(HALVES + "\n# edited since\n")
    code, shown, err = kd("submit", "--run", str(run), *data, "--out", str(tmp_path / "a.csv"))
    assert code == 0, shown + err
    record = json.loads((tmp_path / "a.json").read_text())
    assert record["model_file"]["source"] == HALVES
    assert record["model_file"]["sha256"] == hashlib.sha256(HALVES.encode()).hexdigest()
    assert record["score"]["accuracy"] > 0.5  # 1 epoch on 1,500 rows: learnt, not guessed
    code, _, err = kd("submit", "--run", str(run), "--refit", *data,
                      "--out", str(tmp_path / "refit.csv"))
    assert code == 2 and err.startswith(f"error: {path} has changed since {run}")
    assert not (tmp_path / "refit.csv").exists()

    path.unlink()
    code, shown, err = kd("submit", "--run", str(run), *data, "--out", str(tmp_path / "b.csv"))
    assert code == 0, shown + err
    np.testing.assert_array_equal(np.load(tmp_path / "b.probs.npy"),
                                  np.load(tmp_path / "a.probs.npy"))


def test_your_model_with_members_in_workers_is_saved_and_reused(kd, tmp_path, sample_files):
    """Members trained apart (`--jobs`) reload with the file's own layer class and become one
    saved model per fold, named after the file as Keras allows (its slashes once stopped
    `cv --members 2` with a traceback after all the training); `submit --run` predicts with
    it, and `submit` trains members in workers the same way."""
    path = tmp_path / "halves.py"
    path.write_text(HALVES)
    runs = tmp_path / "runs"
    code, out, err = kd("cv", "--model", f"{path}:halved", "--members", "2", "--jobs", "2",
                        "--train", str(sample_files["train"]), "--folds", "1",
                        "--runs-dir", str(runs))
    assert code == 0, out + err
    (run,) = runs.iterdir()
    with zipfile.ZipFile(run / "models" / "fold-1.keras") as saved:
        model = json.loads(saved.read("config.json"))["config"]
    assert model["name"] == keras_name(f"{path}:halved") and "/" not in model["name"]
    assert len(model["layers"]) == 4  # input, the two members, their average
    data = ("--train", str(sample_files["train"]), "--test", str(sample_files["test"]),
            "--solution", str(sample_files["solution"]))
    code, shown, err = kd("submit", "--run", str(run), *data, "--out", str(tmp_path / "r.csv"))
    assert code == 0, shown + err
    assert json.loads((tmp_path / "r.json").read_text())["score"]["accuracy"] > 0.5
    code, shown, err = kd("submit", "--model", f"{path}:halved", "--members", "2", "--jobs",
                          "2", *data, "--out", str(tmp_path / "s.csv"))
    assert code == 0, shown + err
    assert len(pd.read_csv(tmp_path / "s.csv")) == 1000


SQUARED = '''
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer


def squared(x):
    return np.square(x)


def model(seed):
    return make_pipeline(FunctionTransformer(squared), LogisticRegression(max_iter=200))
'''


def test_a_scikit_learn_run_of_your_file_predicts_with_the_file_gone(kd, kdigits, tmp_path,
                                                                      sample_files):
    """The pickled pipeline refers to a function of the file: a new process (where the file
    was never imported) finds it in the run's copy, imported under the name the file had."""
    path = tmp_path / "squares.py"
    path.write_text(SQUARED)
    runs = tmp_path / "runs"
    code, out, err = kd("cv", "--model", f"{path}:model", "--train", str(sample_files["train"]),
                        "--folds", "2", "--runs-dir", str(runs))
    assert code == 0, out + err
    (run,) = runs.iterdir()
    path.unlink()
    done = kdigits("submit", "--run", str(run), "--train", str(sample_files["train"]),
                   "--test", str(sample_files["test"]), "--solution",
                   str(sample_files["solution"]), "--out", str(tmp_path / "s.csv"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "s.json").read_text())["score"]["accuracy"] > 0.8


def test_a_run_mixing_in_your_model_keeps_it_and_refuses_another(kd, tmp_path, sample_files,
                                                                  model_file):
    """The mixed-in net is recorded as the main one is (weight count, file, its text), and
    a resume or refit that would mix in a changed one is refused in one line."""
    from kaggle_digits import runs

    plan, _ = runs.plan_from_options(runs.CVOptions(
        model="cnn-fast", mix=f"{model_file}:tiny:2", folds=2, epochs=1,
        train=sample_files["train"], runs_dir=tmp_path / "runs"))
    assert plan.config["mix_parameters"] == 784 * 64 + 64 + 64 * 10 + 10
    assert plan.config["mix_model_file"]["sha256"] == user_models.get_model(
        f"{model_file}:tiny").file.sha256
    assert (plan.run_dir / runs.MIX_SOURCE).read_text() == MLP
    assert runs.resume_cv(plan.run_dir).training.mix_members == 2  # unchanged: resumes

    model_file.write_text(MLP.replace("width: int = 64", "width: int = 32"))
    code, _, err = kd("cv", "--resume", str(plan.run_dir))
    assert code == 2 and err.strip() == (
        f"error: {model_file}, mixed in, has changed since {plan.run_dir} started (SHA-256 "
        f"differs); its text then is in {plan.run_dir / runs.MIX_SOURCE}")
    code, _, err = kd("submit", "--run", str(plan.run_dir), "--refit", "--train",
                      str(sample_files["train"]), "--test", str(sample_files["test"]),
                      "--out", str(tmp_path / "refit.csv"))
    assert code == 2 and "mixed in, has changed since" in err
    assert not (tmp_path / "refit.csv").exists()
    model_file.unlink()  # gone: one line that says where its text is kept
    code, _, err = kd("cv", "--resume", str(plan.run_dir))
    (line,) = err.strip().splitlines()
    assert code == 2 and line.startswith(f"error: the model {plan.run_dir} mixes in cannot "
                                         "be built now") and str(runs.MIX_SOURCE) in line


def test_a_submission_records_the_file_of_the_model_it_mixes_in(kd, tmp_path, sample_files,
                                                                model_file):
    out = tmp_path / "mixed.csv"
    code, shown, err = kd("submit", "--model", "mlp", "--mix", f"{model_file}:tiny:1",
                          "--epochs", "1", "--train", str(sample_files["train"]), "--test",
                          str(sample_files["test"]), "--out", str(out))
    assert code == 0, shown + err
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["mix_model_file"]["source"] == MLP
    assert record["mix_model_file"]["function"] == "tiny"
    assert "model_file" not in record  # the main model is a preset


def test_a_run_mixing_in_a_preset_that_changed_since_is_refused(kd, tmp_path, sample_files):
    from kaggle_digits import runs

    plan, _ = runs.plan_from_options(runs.CVOptions(
        model="cnn-fast", mix="mlp-fast:1", folds=2, epochs=1,
        train=sample_files["train"], runs_dir=tmp_path))
    config_path = plan.run_dir / "config.json"
    config = json.loads(config_path.read_text())
    assert config["mix_parameters"] == 672_778  # mlp-fast's weights
    assert config["mix_recipe"] == {"optimizer": "adam", "learning_rate": 3e-3, "epochs": 8,
                                    "batch_size": 256, "schedule": "cosine",
                                    "validation_split": 0.0, "label_smoothing": 0.0,
                                    "model_options": {}}
    before = {k: v for k, v in config["mix_recipe"].items() if k != "label_smoothing"}
    config_path.write_text(json.dumps({**config, "mix_recipe": before}))  # recorded before it
    assert runs.resume_cv(plan.run_dir).training.mix_with == "mlp-fast"
    config_path.write_text(json.dumps({**config, "mix_parameters": 600_000}))
    code, _, err = kd("cv", "--resume", str(plan.run_dir))
    assert code == 2 and err.strip() == (
        f"error: mlp-fast, mixed in, has changed since {plan.run_dir} started (600,000 "
        "weights then, 672,778 now), so its remaining folds would mix in another net; "
        "start a new run")
    recipe = {**config["mix_recipe"], "epochs": 6}  # the preset's recipe then
    config_path.write_text(json.dumps({**config, "mix_recipe": recipe}))
    code, _, err = kd("cv", "--resume", str(plan.run_dir))
    assert code == 2 and err.strip() == (
        f"error: mlp-fast's recipe, mixed in, has changed since {plan.run_dir} started "
        "(epochs 6 then, 8 now), so its remaining folds would mix in nets trained another "
        "way; start a new run")
    # a run from before kdigits recorded the mixed-in nets resumes as it did, and one from
    # before label smoothing resumes unsmoothed (cnn-fast's recipe smooths since)
    assert config["training"]["label_smoothing"] > 0
    training = {k: v for k, v in config["training"].items() if k != "label_smoothing"}
    config_path.write_text(json.dumps({**{key: value for key, value in config.items()
                                          if not key.startswith("mix_")},
                                       "training": training}))
    resumed = runs.resume_cv(plan.run_dir).training
    assert (resumed.mix_with, resumed.label_smoothing) == ("mlp-fast", 0)


def test_example_file_trains_a_scikit_learn_baseline(kd, tmp_path, sample_files):
    out = tmp_path / "forest.csv"
    code, shown, err = kd("submit", "--model", f"{EXAMPLE}:forest", "--train",
                          str(sample_files["train"]), "--test", str(sample_files["test"]),
                          "--out", str(out))
    assert code == 0, shown + err
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["model_file"]["function"] == "forest"
    assert record["model_file"]["source"] == EXAMPLE.read_text()
    assert record["score"]["accuracy"] > 0.85
    code, shown, _ = kd("models", "--model", f"{EXAMPLE}:small_cnn")
    assert code == 0 and "Total params" in shown
