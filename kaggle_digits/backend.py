"""Which Keras backend trains, on which device, and how it is seeded: the one module that
knows TensorFlow, JAX and PyTorch apart.

Keras 3 picks its backend once, when ``keras`` is first imported, from ``KERAS_BACKEND``
(else ``~/.keras/keras.json``, else TensorFlow). Everything else in kdigits is written
against Keras and NumPy, so the choice only matters in five places, all here:

- checking the choice before Keras is imported, so an unknown or uninstalled backend is one
  line (`require`), and choosing it from the CLI (`select`);
- naming the device it trains on, asked of the backend's own library so that JAX and
  PyTorch runs never import TensorFlow (`device`);
- seeding: ``keras.utils.set_random_seed`` imports TensorFlow whenever it is installed, to
  seed ``tf.data``, which kdigits does not use; so only the TensorFlow backend calls it, and
  the others get the same seeds without it (`seed`);
- the versions that go into a run's record (`versions`);
- letting XLA compile, on JAX, the random image layers Keras marks as uncompilable
  (`compile_augmentation`).

Determinism, per backend, as far as each offers it (README, "Backends and GPUs"):
TensorFlow has op determinism (CPU and GPU); JAX on CPU is deterministic, and on a GPU
``--xla_gpu_deterministic_ops`` is requested through ``XLA_FLAGS``; PyTorch is asked for
deterministic algorithms, with ``CUBLAS_WORKSPACE_CONFIG`` set for CUDA, and warns (rather
than fails) on an operation that has no deterministic kernel.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import random
import sys
from pathlib import Path
from typing import Any

from kaggle_digits.errors import KdigitsError

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT = "tensorflow"
# What to install for each backend: the CPU build, as `make test` does for JAX. CUDA
# builds are in the README ("Backends and GPUs"): they are large and need a GPU to help.
INSTALL = {"tensorflow": "pip install tensorflow",
           "jax": "pip install 'kaggle-digits[jax]'  (or: pip install 'jax[cpu]')",
           "torch": "pip install torch  (a CPU wheel: see the README)"}
PACKAGES = {"tensorflow": ("tensorflow",), "jax": ("jax", "jaxlib"), "torch": ("torch",)}


def name() -> str:
    """The backend Keras is using, or will use once imported, read the way Keras reads it."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    chosen = os.environ.get("KERAS_BACKEND", "").strip()
    if chosen:
        return chosen
    home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return str(json.loads((Path(home) / "keras.json").read_text())["backend"])
    return DEFAULT


def require() -> str:
    """The backend about to be used, checked: Keras itself fails on an unknown name with a
    traceback, and on a missing library deep inside its import."""
    chosen = name()
    if chosen not in BACKENDS:
        raise KdigitsError(f"unknown Keras backend {chosen!r} (KERAS_BACKEND or --backend); "
                           f"choose one of: {', '.join(BACKENDS)}")
    if "keras" not in sys.modules and importlib.util.find_spec(chosen) is None:
        raise KdigitsError(f"the {chosen} backend is not installed: {INSTALL[chosen]}")
    return chosen


def select(backend: str) -> str:
    """Make ``backend`` the one Keras will load (the CLI's ``--backend``). Keras cannot
    switch once imported, so asking for another backend after that is an error."""
    backend = backend.strip().lower()
    if "keras" in sys.modules and name() != backend:
        raise KdigitsError(f"Keras is already running on {name()}; cannot switch to "
                           f"{backend} in this process")
    os.environ["KERAS_BACKEND"] = backend
    require()
    return backend


def adopt(recorded: str | None) -> str:
    """Use a run's recorded backend for ``--resume``, so its remaining folds train as the
    first ones did. A backend the user chose explicitly wins only if it is the same one."""
    current = name()
    if not recorded or recorded == current:
        return current
    if "keras" in sys.modules or os.environ.get("KERAS_BACKEND", "").strip():
        raise KdigitsError(f"this run trained on {recorded}, but the backend now is "
                           f"{current}; resume it with --backend {recorded}")
    return select(recorded)


def prepare() -> str:
    """Called just before ``import keras``: check the choice and ask for deterministic GPU
    kernels while that can still take effect (both flags are read when the GPU starts up,
    and neither changes anything on a CPU)."""
    chosen = require()
    if chosen == "jax" and "xla_gpu_deterministic_ops" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + " --xla_gpu_deterministic_ops=true").strip()
    if chosen == "jax":
        keep_jax_compilations()
    if chosen == "torch":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return chosen


def keep_jax_compilations() -> None:
    """Let JAX keep its compiled training steps on disk, in kdigits' cache folder.

    Every new Keras model on JAX compiles its training step again, several seconds on a
    CPU for cnn-fast, although each fold, member and rerun of a recipe compiles the very
    same program. JAX's persistent compilation cache reuses them (cnn-fast, 1,500 rows, one
    epoch: 13 s per fit → 5 s). Results do not change: the cache holds what XLA would
    compile again. A folder the user gave JAX (``JAX_COMPILATION_CACHE_DIR``) wins."""
    from kaggle_digits.data import default_cache_dir

    folder = str(default_cache_dir() / "jax-compilations")
    if "jax" in sys.modules:  # a notebook that imported JAX itself
        import jax

        if not jax.config.jax_compilation_cache_dir:
            jax.config.update("jax_compilation_cache_dir", folder)
        return
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", folder)


def keep_tensorflow_out() -> None:
    """After ``import keras`` on JAX or PyTorch: stop Keras from importing TensorFlow.

    Keras' serializer asks ``tf.available`` (to recognise ``tf.TensorShape`` values) on
    every ``model.save``, and the asking imports all of TensorFlow — seconds, its C++
    start-up log and hundreds of MiB — to learn that a JAX model holds no TensorFlow
    objects. Marking Keras' lazy TensorFlow handle unavailable is exactly how Keras runs
    where TensorFlow is not installed, which it supports; kdigits needs no ``tf.data``.
    A Keras without that handle is left alone (the import then merely costs time).
    """
    if name() == "tensorflow" or "tensorflow" in sys.modules:
        return
    with contextlib.suppress(ImportError, AttributeError):
        from keras.src.utils import module_utils

        if module_utils.tensorflow.module is None:
            module_utils.tensorflow._available = False


def usable_cpus() -> int:
    """CPU cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu(threads: int | None = None) -> str:
    """The CPU as a device: the threads the process may use, which is what bounds speed.
    A count set in TF_NUM_INTRAOP_THREADS (by `limit_threads`, or by the user) is the one
    the libraries use, so it is the one reported."""
    if threads is None:
        given = os.environ.get("TF_NUM_INTRAOP_THREADS", "")
        threads = int(given) if given.isdigit() and int(given) > 0 else usable_cpus()
    return f"CPU ({threads} thread{'s' if threads != 1 else ''})"


def _named(gpus: list[str]) -> str:
    """The device Keras trains on: every backend uses the first GPU unless told otherwise."""
    return gpus[0] if len(gpus) == 1 else f"{gpus[0]} (first of {len(gpus)} GPUs)"


def device() -> str:
    """What the models train on, e.g. ``CPU (2 threads)`` or ``NVIDIA H100 80GB HBM3``,
    asked of the backend's own library (so a JAX or PyTorch run never loads TensorFlow).
    Keras is set up first, the one way kdigits sets it up (`keras_module`), because asking
    starts the backend: TensorFlow would print its C++ log unsilenced, and JAX would start
    without the deterministic-kernel ``XLA_FLAGS`` it reads only then. Every caller
    trains with Keras next, so nothing is imported that was not going to be."""
    keras_module()
    backend = name()
    if backend == "jax":
        import jax

        first = jax.devices()[0]
        if first.platform == "cpu":
            return cpu()
        return _named([d.device_kind for d in jax.devices() if d.platform == first.platform])
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return _named([torch.cuda.get_device_name(i)
                           for i in range(torch.cuda.device_count())])
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "Apple GPU (MPS)"
        return cpu(torch.get_num_threads())
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return cpu()
    details = [tf.config.experimental.get_device_details(g).get("device_name") or g.name
               for g in gpus]
    return _named(details)


def record(keras: bool = True) -> dict[str, str | None]:
    """What a run folder or a submission records about where its models ran; scikit-learn
    presets use no Keras backend and always run on the CPU."""
    if not keras:
        return {"backend": None, "device": cpu()}
    return {"backend": require(), "device": device()}


def seed(value: int) -> None:
    """Seed Python, NumPy and the backend so that one seed gives one set of weights.

    Keras' layers draw their seeds from Python's ``random`` when they are built, and
    ``fit`` shuffles with NumPy, so those two seeds decide a model on every backend;
    TensorFlow and PyTorch also get their own. TensorFlow alone goes through
    ``keras.utils.set_random_seed``, which imports TensorFlow whenever it is installed.
    """
    backend = name()
    if backend == "tensorflow":
        keras = keras_module()
        import tensorflow as tf

        keras.utils.set_random_seed(value)
        with contextlib.suppress(AttributeError, RuntimeError):
            tf.config.experimental.enable_op_determinism()
        return
    import numpy as np

    random.seed(value)
    np.random.seed(value)
    if backend == "torch":
        import torch

        torch.manual_seed(value)
        # warn_only: an op without a deterministic kernel (some CUDA ones) warns, not fails
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


# Keras' affine image layers, marked ``supports_jit = False`` on every backend because
# TensorFlow's transform kernel has no XLA version; on JAX they are plain jax.numpy.
JAX_COMPILABLE_LAYERS = ("RandomTranslation", "RandomRotation", "RandomZoom", "RandomShear")


def compile_augmentation(model: Any) -> Any:
    """On JAX, let Keras compile a model that holds random shifts, turns or zooms.

    One uncompilable layer makes Keras run the whole training step eagerly, op by op. For
    a model with augmentation (`cnn-fast`, `best`) that cost 1.8x per epoch on a 2-core
    CPU, and on an H200 `best` did not finish one epoch in 55 s where the augmentation-free
    `cnn` trains one in 1.3 s compiled. The layers draw their randomness from Keras seed
    generators, which the JAX trainer threads through the compiled step, so each batch is
    still distorted afresh (tested). Other backends, and other layers, are left as Keras
    has them. Returns the model.
    """
    if name() != "jax":
        return model
    flatten = getattr(model, "_flatten_layers", None)  # the walk Keras' own check makes
    for layer in flatten() if flatten else ():
        kind = type(layer)
        if kind.__name__ in JAX_COMPILABLE_LAYERS and kind.__module__.startswith("keras."):
            layer.supports_jit = True
    return model


def versions(backend: str | None = None) -> dict[str, str]:
    """Versions of the backend's packages, from metadata (nothing is imported)."""
    out = {}
    for package in PACKAGES.get(backend or name(), ()):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def limit_threads(threads: int) -> bool:
    """Train with ``threads`` CPU threads. The libraries read this once, at start-up, so
    it only takes effect before Keras is imported (False after: a notebook that has trained
    already keeps its threads). Recorded with a run because, on a CPU, the thread count
    changes how sums are split and so a model's last digits."""
    if "keras" in sys.modules:
        return False
    count = str(threads)
    for variable in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = count
    os.environ["TF_NUM_INTEROP_THREADS"] = "1" if threads == 1 else "2"
    if name() == "jax":
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   f" --xla_cpu_multi_thread_eigen={str(threads > 1).lower()}"
                                   f" intra_op_parallelism_threads={threads}").strip()
    return True


def keras_module() -> Any:
    """Import Keras quietly: TensorFlow's C++ start-up chatter ("oneDNN custom operations",
    "Could not find cuda drivers", printed by absl before any log level applies) is noise
    on a CLI, so file descriptor 2 points at /dev/null for the import only. Python errors
    are raised after it is restored, so a broken install still shows its traceback. The
    backend (KERAS_BACKEND) is checked first: an unknown or missing one is one line."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    prepare()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import keras
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    # tf.function's "retracing" warnings fire when fold models predict in turn: not news
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    keep_tensorflow_out()
    return keras
