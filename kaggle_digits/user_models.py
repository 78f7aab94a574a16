"""Your own model wherever a preset goes: ``--model FILE.py:FUNCTION`` (or ``pkg.mod:FUNCTION``).

The function returns a list of Keras layers (starting with ``keras.Input``), a Keras model,
or a scikit-learn estimator (called with ``seed=`` when it takes one). kdigits reads the
input shape to feed either 784 pixels or 28×28×1 images, scaled to [0, 1] as for presets.
A recipe may sit beside the function as a ``RECIPE`` dict (optimizer, learning_rate,
epochs, batch_size, schedule, members, validation_split) and a search space for
``kdigits tune`` as ``SPACE`` (Optuna distributions by name); the CLI's options still win.

Everything that can go wrong with a user's file (missing, does not import, no such
function, raises, wrong input or output shape) is found here, before any training, and
reported as one line. The file's SHA-256 and text go into the run folder, so a run can be
traced and repeated.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

from kaggle_digits.constants import N_CLASSES, N_PIXELS, SIDE
from kaggle_digits.errors import KdigitsError
from kaggle_digits.models import PRESETS, Preset, Recipe, get_preset, keras_module

INPUT_SHAPES = {(N_PIXELS,): "mlp", (SIDE, SIDE, 1): "cnn", (SIDE, SIDE): "cnn"}
RECIPE_KEYS = tuple(f.name for f in fields(Recipe))


@dataclass(frozen=True)
class ModelFile:
    """Where a user's model came from: recorded in run folders and submission records."""

    spec: str  # as given: FILE.py:FUNCTION or package.module:FUNCTION
    path: str  # the file that was imported
    function: str
    sha256: str
    source: str  # the file's text

    def to_json(self) -> dict[str, str]:
        return {"spec": self.spec, "path": self.path, "function": self.function,
                "sha256": self.sha256}


def is_model_spec(name: str) -> bool:
    return ":" in name


def short_name(name: str) -> str:
    """A name fit for folder and file names: the preset's, or ``<file>-<function>``."""
    if not is_model_spec(name):
        return name
    target, _, function = name.rpartition(":")
    stem = Path(target).stem if target.endswith(".py") else target.rsplit(".", 1)[-1]
    return f"{stem}-{function}"


def get_model(name: str) -> Preset:
    """A preset by name, or the user's model behind ``FILE.py:FUNCTION``."""
    if name in PRESETS or not is_model_spec(name):
        return get_preset(name)
    return _load(name, _file_sha(name))


def model_file(name: str) -> ModelFile | None:
    """The file behind a user's model (None for presets)."""
    if not is_model_spec(name):
        return None
    return get_model(name).file  # type: ignore[attr-defined]


def _file_sha(spec: str) -> str:
    """Part of the cache key, so an edited file is imported afresh, never served stale."""
    target = spec.rsplit(":", 1)[0]
    path = Path(target)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


@cache
def _load(spec: str, _sha: str) -> Preset:
    target, _, function_name = spec.rpartition(":")
    if not target or not function_name.isidentifier() or ".py:" in target:
        raise KdigitsError(f"--model {spec!r}: expected FILE.py:FUNCTION or "
                           "package.module:FUNCTION")
    module, path = _import(spec, target)
    function = getattr(module, function_name, None)
    if not callable(function):
        found = [n for n, v in vars(module).items()
                 if inspect.isfunction(v) and not n.startswith("_")]
        raise KdigitsError(f"{target} has no function {function_name} "
                           f"(functions there: {', '.join(found) or 'none'})")
    recipe = _recipe(spec, getattr(module, "RECIPE", None))
    source = Path(path).read_text(encoding="utf-8", errors="replace")
    file = ModelFile(spec, str(path), function_name,
                     hashlib.sha256(Path(path).read_bytes()).hexdigest(), source)
    takes_seed = "seed" in inspect.signature(function).parameters  # estimators get one
    built = _call(spec, function, {"seed": 0} if takes_seed else {})
    if _is_estimator(built):
        kind = "sklearn"

        def build(seed: int, **_: Any) -> Any:
            return _call(spec, function, {"seed": seed} if takes_seed else {})
        recipe = Recipe()
    else:
        kind = _check_keras(spec, built)

        def build(**options: Any) -> Any:
            return _call(spec, function, options)
    preset = UserPreset(spec, kind, build, recipe, f"{spec} (sha256 {file.sha256[:12]}…)",
                        file=file, space=getattr(module, "SPACE", None), function=function)
    return preset


@dataclass(frozen=True)
class UserPreset(Preset):
    """A preset made from a user's function; ``file`` is what the run folder records."""

    file: ModelFile | None = None
    space: dict[str, Any] | None = None  # a SPACE declared beside the function, for tune
    function: Any = None  # the user's function: its keyword defaults are layer options

    def options(self) -> dict[str, Any]:
        if not self.is_keras or self.function is None:
            return {}
        return {name: p.default
                for name, p in inspect.signature(self.function).parameters.items()
                if p.default is not inspect.Parameter.empty}


def kept_objects(copy: Path, recorded_path: str | None) -> dict[str, Any]:
    """What a run's copy of a model file defines (classes, functions), for reloading the
    nets it trained: Keras finds the user's own layers, activations and the like only when
    handed them, and joblib unpickles a scikit-learn model's own classes from the module
    name the original file had, so the copy is imported under that name. A copy that no
    longer imports (a relative import, a file beside it) gives nothing, and models that
    need nothing from it still load."""
    try:
        module = _exec_file(_module_name(recorded_path or str(copy.resolve())), copy)
    except BaseException:  # the user's code: anything can come out of it
        return {}
    return _defined_in(module) if module is not None else {}


def loaded_objects(*names: str | None) -> dict[str, Any] | None:
    """The same for models built in this process from today's files: what Keras needs to
    reload nets of them that were saved apart (members trained in worker processes).
    Presets need nothing: kdigits' own layers are registered."""
    found: dict[str, Any] = {}
    for name in reversed([n for n in names if n and is_model_spec(n)]):  # the main one wins
        function = getattr(get_model(name), "function", None)
        module = sys.modules.get(getattr(function, "__module__", ""))
        if module is not None:
            found.update(_defined_in(module))
    return found or None


def _defined_in(module: Any) -> dict[str, Any]:
    return {name: value for name, value in vars(module).items()
            if callable(value) and getattr(value, "__module__", None) == module.__name__}


def _module_name(path: str) -> str:
    return "kdigits_user_model_" + hashlib.sha256(path.encode()).hexdigest()[:12]


def _exec_file(name: str, path: Path) -> Any:
    """``path`` run as module ``name`` (None if it is no Python file), registered in
    sys.modules, where dataclasses and pickling look it up; unregistered if it raises."""
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        return None
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _import(spec: str, target: str) -> tuple[Any, Path]:
    keras_module()  # first, quietly: the user's file most likely imports keras itself
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target).expanduser()
        if not path.is_file():
            raise KdigitsError(f"--model {spec}: no such file {path}")
        try:
            module = _exec_file(_module_name(str(path.resolve())), path)
        except BaseException as error:  # the user's code: anything can come out of it
            raise KdigitsError(f"{path} does not import: {_describe(error, path)}") from None
        if module is None:
            raise KdigitsError(f"--model {spec}: {path} is not a Python file")
        return module, path.resolve()
    try:
        module = importlib.import_module(target)
    except BaseException as error:
        raise KdigitsError(f"--model {spec}: module {target} does not import: "
                           f"{_describe(error)}") from None
    return module, Path(inspect.getfile(module)).resolve()


def _describe(error: BaseException, path: Path | None = None) -> str:
    """``ErrorType: message`` and, where known, the line of the user's file."""
    line = getattr(error, "lineno", None)
    if line is None and path is not None:
        frames = [f for f in _frames(error) if Path(f.filename).resolve() == path.resolve()]
        line = frames[-1].lineno if frames else None
    where = f" (line {line})" if line else ""
    # A SyntaxError's text ends in "(file, line N)", which `where` below says once.
    said = error.msg if isinstance(error, SyntaxError) and error.msg else str(error)
    text = said.strip().splitlines()[0] if said.strip() else ""
    return f"{type(error).__name__}{': ' + text if text else ''}{where}"


def _frames(error: BaseException) -> list[Any]:
    import traceback

    return list(traceback.extract_tb(error.__traceback__))


def _call(spec: str, function: Any, kwargs: dict[str, Any]) -> Any:
    try:
        return function(**kwargs)
    except BaseException as error:
        path = Path(inspect.getfile(function)) if inspect.isfunction(function) else None
        raise KdigitsError(f"--model {spec}: {function.__name__}() raised "
                           f"{_describe(error, path)}") from None


def _recipe(spec: str, given: Any) -> Recipe:
    if given is None:
        return Recipe("adam", 1e-3, 10, 128)  # a sound default for a new Keras model
    if not isinstance(given, dict):
        raise KdigitsError(f"--model {spec}: RECIPE must be a dict, not {type(given).__name__}")
    unknown = sorted(set(given) - set(RECIPE_KEYS))
    if unknown:
        raise KdigitsError(f"--model {spec}: unknown RECIPE keys {', '.join(unknown)}; "
                           f"known: {', '.join(RECIPE_KEYS)}")
    return Recipe(**{"optimizer": "adam", "learning_rate": 1e-3, "epochs": 10,
                     "batch_size": 128, **given})


def _is_estimator(built: Any) -> bool:
    return hasattr(built, "fit") and hasattr(built, "predict_proba") and not hasattr(
        built, "compile")


def _check_keras(spec: str, built: Any) -> str:
    """The model's kind ("mlp" or "cnn") from its input shape; one line if it cannot work."""
    keras = keras_module()
    if isinstance(built, list | tuple):
        if not built or not all(isinstance(layer, keras.layers.Layer | keras.KerasTensor)
                                for layer in built):
            raise KdigitsError(f"--model {spec}: the list must hold Keras layers, starting "
                               "with keras.Input((784,)) or keras.Input((28, 28, 1))")
        try:
            model = keras.Sequential(list(built))
        except (ValueError, TypeError) as error:
            raise KdigitsError(f"--model {spec}: the layers do not form a model "
                               f"({_describe(error)})") from None
    elif isinstance(built, keras.Model):
        model = built
    else:
        raise KdigitsError(f"--model {spec}: the function returned {type(built).__name__}; "
                           "return a list of Keras layers, a Keras model or a scikit-learn "
                           "estimator")
    try:
        inputs, outputs = tuple(model.input_shape[1:]), tuple(model.output_shape[1:])
    except (AttributeError, ValueError):
        raise KdigitsError(f"--model {spec}: no input shape; start the layers with "
                           "keras.Input((784,)) or keras.Input((28, 28, 1))") from None
    if inputs not in INPUT_SHAPES:
        raise KdigitsError(f"--model {spec}: input shape {inputs} is neither (784,) nor "
                           "(28, 28, 1)")
    if outputs != (N_CLASSES,):
        raise KdigitsError(f"--model {spec}: output shape {outputs}; kdigits needs "
                           f"{N_CLASSES} class probabilities, e.g. "
                           "Dense(10, activation='softmax') last")
    _check_names(spec, model)
    _check_probabilities(spec, model, inputs)
    return INPUT_SHAPES[inputs]


# TensorFlow opens a name scope per model and layer when it trains, and refuses any other
# character there: a name like "my net" builds, then stops training with a traceback.
SCOPE_NAME = re.compile(r"[A-Za-z0-9_.\\/>-]*")


def _check_names(spec: str, model: Any) -> None:
    for part in [model, *model._flatten_layers(include_self=False)]:
        if not SCOPE_NAME.fullmatch(part.name):
            raise KdigitsError(f"--model {spec}: TensorFlow cannot train a layer or model "
                               f"named {part.name!r}; use letters, digits, '_', '.' and '-'")


def _check_probabilities(spec: str, model: Any, inputs: tuple) -> None:
    """Probabilities, not scores: kdigits trains with cross-entropy on probabilities and
    averages members and views, which scores (logits) would make meaningless."""
    import numpy as np

    probe = np.random.default_rng(0).random((4, *inputs), dtype=np.float32)
    try:
        out = keras_module().ops.convert_to_numpy(model(probe, training=False))
    except Exception as error:  # the user's layers: anything can come out of them
        raise KdigitsError(f"--model {spec}: the model cannot read 4 digits at once "
                           f"({_describe(error)})") from None
    out = np.asarray(out, dtype=np.float64)  # a bfloat16 softmax sums to 1 within 2**-7
    sums = out.sum(axis=1)
    if not np.isfinite(out).all() or out.min() < -1e-6 or np.abs(sums - 1).max() > 1e-2:
        raise KdigitsError(f"--model {spec}: its outputs are not class probabilities (a "
                           f"row sums to {sums[np.argmax(np.abs(sums - 1))]:.3g}); end with "
                           "Dense(10, activation='softmax')")
