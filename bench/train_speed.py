"""Training speed against accuracy, side by side: `cnn` (the classic recipe) vs kdigits' presets.

Every model trains on the same train.csv and is scored on the held-back test.csv (against
solution.csv) after each epoch, off the clock. The machine this runs on is usually shared
and noisy, so the table reasons in ratios against `cnn` measured in the same run, and each
model trains in a fresh child process, back to back: its peak memory is then its own
(``ru_maxrss`` of that child, which loads the data, trains and predicts) and no model
inherits another's TensorFlow state.

    python bench/train_speed.py                  # cnn, cnn-fast, mlp, mlp-fast (make bench)
    python bench/train_speed.py --best           # also `best` (long: several members)
    python bench/train_speed.py --quick          # smoke run: 2,000 rows, 1 epoch each
    python bench/train_speed.py --models cnn,cnn-fast --epochs cnn-fast=8
    python bench/train_speed.py --models cnn-fast --backends tensorflow,jax,torch --rows 8400
    python bench/train_speed.py --models cnn-fast,best --precisions float32,bfloat16

Each model trains on the Keras backend that KERAS_BACKEND names (TensorFlow by default), or
on each of ``--backends`` in turn; every result records its backend and the device it
trained on, and with several backends also its speed as a ratio of TensorFlow's. Likewise
``--precisions`` trains each model in each arithmetic (``kdigits --precision``) and gives
bfloat16's speed and accuracy against float32's.

Writes bench/results/train_speed.json (or train_speed-quick.json) and prints a Rich table.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import contextlib
import datetime as dt
import inspect
import multiprocessing
import os
import platform
import resource
import runpy
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone without installing

DEFAULT_MODELS = ("cnn", "cnn-fast", "mlp", "mlp-fast")
BASELINE = "cnn"
THRESHOLDS = (0.99, 0.995, 0.997)
QUICK_ROWS = (2000, 1000)


# --- one model, in its own process ---------------------------------------------------------

def run_one(name: str, epochs: int | None, paths: dict[str, str],
            rows: tuple[int | None, int | None] | None, presets: str | None = None,
            backend_name: str | None = None, precision: str = "float32") -> dict[str, Any]:
    """Train one preset as `kdigits` does and score it after every epoch (child process,
    so the backend can be chosen before Keras is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if backend_name:
        os.environ["KERAS_BACKEND"] = backend_name
    import numpy as np

    if presets:  # candidate presets registered into kaggle_digits.models.PRESETS
        runpy.run_path(presets)

    from kaggle_digits import backend, data, submission_file, train

    x_train = data.load_train(paths["train"])
    x_test = data.load_test(paths["test"]).pixels
    y_test = submission_file.read_label_file(paths["solution"]).labels.astype(np.uint8)
    pixels, labels = x_train.pixels, x_train.labels
    if rows:
        pixels, labels = pixels[:rows[0]], labels[:rows[0]]
        x_test, y_test = x_test[:rows[1]], y_test[:rows[1]]

    # one net's speed: `best`'s mixed-in cnn-fast nets are cnn-fast's own row
    config = train.config_for(name, epochs=epochs, precision=precision, mix_members=0)
    curve: list[dict[str, Any]] = []
    scorer = _epoch_scorer(x_test, y_test, curve)
    with _extra_callbacks(train, [scorer]) as extra:
        trained = train.fit(name, pixels, labels, config, **extra)

    # Per-epoch seconds come from kdigits' own history (epoch start to end, training only:
    # the scorer runs after that clock stops and before the next epoch's starts).
    elapsed = 0.0
    for point, row in zip(curve, trained.history, strict=True):
        elapsed += row["seconds"]
        point.update(seconds=row["seconds"], elapsed=elapsed)

    proba = trained.predict_proba(x_test)  # first call: includes tracing, as a user sees it
    predict_s = []
    for _ in range(2):
        start = time.perf_counter()
        proba = trained.predict_proba(x_test)
        predict_s.append(time.perf_counter() - start)
    tta: dict[str, Any] = {}
    if config.tta:  # the recipe predicts with test-time augmentation: score it as submit does
        start = time.perf_counter()
        tta_proba = trained.predict_proba(x_test, tta=True)
        tta = {"tta_accuracy": float((tta_proba.argmax(axis=1) == y_test).mean()),
               "predict_tta_s": time.perf_counter() - start}
    return {
        "model": name,
        "backend": backend.name(),
        "precision": precision,
        "device": backend.device(),
        "backend_versions": backend.versions(),
        "config": config.to_json(),
        "parameters": int(sum(m.count_params() for m in trained.members)),
        "train_rows": int(labels.size),
        "test_rows": int(y_test.size),
        "epochs": curve,
        "train_s": elapsed,
        "fit_wall_s": trained.timing.get("wall_s"),
        "accuracy": float((proba.argmax(axis=1) == y_test).mean()),
        "predict_s": min(predict_s),
        "predict_images_per_s": y_test.size / min(predict_s),
        **tta,
        "peak_rss_mib": _peak_rss_mib(),
    }


def _epoch_scorer(x_test: Any, y_test: Any, curve: list[dict[str, Any]]) -> Any:
    """A Keras callback: held-back accuracy of the model being trained, after each epoch."""
    from kaggle_digits.models import keras_module
    from kaggle_digits.train import model_inputs

    keras = keras_module()

    class EpochScorer(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            x = model_inputs(x_test, tuple(self.model.input_shape))
            predicted = self.model.predict(x, batch_size=2048, verbose=0).argmax(axis=1)
            curve.append({"member": self.model.name, "epoch": epoch + 1,
                          "accuracy": float((predicted == y_test).mean())})
            print(f"  {self.model.name} epoch {epoch + 1}: "
                  f"{100 * curve[-1]['accuracy']:.2f}%", flush=True)

    return EpochScorer()


@contextlib.contextmanager
def _extra_callbacks(train: Any, callbacks: list) -> Iterator[dict[str, Any]]:
    """``train.fit(callbacks=…)`` where kdigits has it; otherwise add them to Keras' fit
    for the duration, so the bench still measures kdigits' own training loop."""
    if "callbacks" in inspect.signature(train.fit).parameters:
        yield {"callbacks": callbacks}
        return
    from kaggle_digits.models import keras_module

    model_class = keras_module().Model
    original = model_class.fit

    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), *callbacks]
        return original(self, *args, **kwargs)

    model_class.fit = fit
    try:
        yield {}
    finally:
        model_class.fit = original


def _peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


# --- the comparison ----------------------------------------------------------------------

def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Times to thresholds, accuracy at cnn's finishing time, and ratios against cnn on the
    same backend; with several backends, each model's speed against TensorFlow's."""
    budget = None
    for r in results:
        r["time_to"] = {f"{t:.3f}": _time_to(r["epochs"], t) for t in THRESHOLDS}
        r["seconds_per_epoch"] = r["train_s"] / max(1, len(r["epochs"]))
        seconds = [p["seconds"] for p in r["epochs"]]
        r["first_epoch_s"] = seconds[0]
        # JAX and PyTorch compile in the first epoch: later epochs show the running speed
        r["steady_s_per_epoch"] = statistics.median(seconds[1:]) if seconds[1:] else None
    for r in results:
        r.setdefault("precision", "float32")
        same = [t for t in results if t["model"] == r["model"]]
        tf = next((t for t in same if t.get("backend") == "tensorflow"
                   and t.get("precision", "float32") == r["precision"]), None)
        f32 = next((t for t in same if t.get("backend") == r.get("backend")
                    and t.get("precision", "float32") == "float32"), None)
        if f32 is not None and r is not f32:
            r["vs_float32"] = {
                "train_s": r["train_s"] / f32["train_s"],
                "steady_s_per_epoch": (r["steady_s_per_epoch"] / f32["steady_s_per_epoch"]
                                       if r["steady_s_per_epoch"] and f32["steady_s_per_epoch"]
                                       else None),
                "predict_s": r["predict_s"] / f32["predict_s"],
                "accuracy_points": 100 * (r["accuracy"] - f32["accuracy"])}
        if tf is not None and r is not tf:
            r["vs_tensorflow"] = {
                "train_s": r["train_s"] / tf["train_s"],
                "first_epoch_s": r["first_epoch_s"] / tf["first_epoch_s"],
                "steady_s_per_epoch": (r["steady_s_per_epoch"] / tf["steady_s_per_epoch"]
                                       if r["steady_s_per_epoch"] and tf["steady_s_per_epoch"]
                                       else None),
                "predict_s": r["predict_s"] / tf["predict_s"]}
        base = next((b for b in results if b["model"] == BASELINE
                     and b.get("backend") == r.get("backend")
                     and b.get("precision", "float32") == r["precision"]), None)
        if base is None:
            continue
        budget = base["train_s"] if budget is None else budget
        own = base["train_s"]
        reached = [p["accuracy"] for p in r["epochs"] if p["elapsed"] <= own * 1.0001]
        r["accuracy_at_cnn_time"] = reached[-1] if reached else None
        r["ratios"] = {
            "train_s_vs_cnn_total": r["train_s"] / own,
            "time_to_0.990_vs_cnn_total": _ratio(r["time_to"]["0.990"], own),
            "time_to_0.995_vs_cnn_total": _ratio(r["time_to"]["0.995"], own),
            "train_images_per_s_vs_cnn": (_images_per_s(r) / _images_per_s(base)),
            "predict_speed_vs_cnn": base["predict_s"] / r["predict_s"],
        }
    return {"baseline": BASELINE, "baseline_train_s": budget}


def _time_to(curve: list[dict[str, Any]], threshold: float) -> float | None:
    """Training seconds until the first epoch at or above ``threshold`` (single models; for
    ensembles, a member's curve, counted from the start of the first member)."""
    return next((p["elapsed"] for p in curve if p["accuracy"] >= threshold), None)


def _ratio(value: float | None, budget: float) -> float | None:
    return None if value is None else value / budget


def _images_per_s(r: dict[str, Any]) -> float:
    return r["train_rows"] * len(r["epochs"]) / r["train_s"]


def machine() -> dict[str, Any]:
    """What the numbers were measured on: CPU model, cores, the flags that matter, versions."""
    flags, model = set(), platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
    import importlib.metadata

    import kaggle_digits

    def version(package: str) -> str:  # from metadata: this process imports no backend
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu_flags": {f: f in flags for f in wanted},
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        **{package: version(package) for package in
           ("tensorflow", "keras", "numpy", "jax", "jaxlib", "torch")},
        "kdigits": kaggle_digits.__version__,
    }


# --- output ------------------------------------------------------------------------------

def render(results: list[dict[str, Any]], info: dict[str, Any], budget: float | None) -> None:
    from rich.console import Console
    from rich.table import Table

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{100 * v:.2f}%"

    def sec(v: float | None) -> str:
        return "—" if v is None else f"{v:.0f} s"

    def times(v: float | None) -> str:
        return "—" if v is None else f"{v:.2f}×"

    console = Console(width=max(Console().width, 144))  # the table needs ~140 columns
    flags = ", ".join(f for f, on in info["cpu_flags"].items() if on) or "none"
    devices = dict.fromkeys(f"{r['backend']} on {r['device']}" for r in results)
    console.print(f"[bold]{info['date']}[/]  {info['cpu']}, {info['cores']} cores ({flags}); "
                  f"trained with {'; '.join(devices)}; Keras {info['keras']}; load average "
                  f"at start {info['load_average_at_start'][0]:.1f}")
    table = Table(title="Training speed vs held-back accuracy"
                  + (f" (cnn's {len(results[0]['epochs'])} epochs = {budget:.0f} s)"
                     if budget else ""))
    for column in ("model", "backend", "epochs", "s/epoch", "×TF/f32", "train s", "accuracy",
                   "with TTA", "→99.0%", "→99.5%", "acc @cnn end", "train ×cnn", "predict",
                   "predict ×cnn", "peak RSS"):
        table.add_column(column, justify="left" if column in ("model", "backend") else "right")
    for r in results:
        ratios = r.get("ratios", {})
        versus = r.get("vs_tensorflow", {})
        steady = r["steady_s_per_epoch"] or r["seconds_per_epoch"]
        table.add_row(
            r["model"], r["backend"] + (" bf16" if r["precision"] == "bfloat16" else ""),
            str(len(r["epochs"])), f"{steady:.1f}",
            times(versus.get("steady_s_per_epoch") or versus.get("train_s")
                  or r.get("vs_float32", {}).get("steady_s_per_epoch")),
            f"{r['train_s']:.0f}", pct(r["accuracy"]), pct(r.get("tta_accuracy")),
            sec(r["time_to"]["0.990"]),
            sec(r["time_to"]["0.995"]), pct(r.get("accuracy_at_cnn_time")),
            times(ratios.get("train_images_per_s_vs_cnn")), f"{r['predict_s']:.2f} s",
            times(ratios.get("predict_speed_vs_cnn")), f"{r['peak_rss_mib']:.0f} MiB")
    console.print(table)
    for r in results:
        curve = "  ".join(f"{p['epoch']}:{100 * p['accuracy']:.2f}" for p in r["epochs"])
        seconds = " ".join(f"{p['seconds']:.1f}" for p in r["epochs"])
        console.print(f"[bold]{r['model']}[/] ({r['backend']}, {r['precision']}) per-epoch "
                      f"accuracy: {curve}; "
                      f"seconds: {seconds}", highlight=False)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="comma-separated presets (cnn is always run first, as baseline)")
    parser.add_argument("--best", action="store_true", help="also train `best` (long)")
    parser.add_argument("--epochs", action="append", default=[], metavar="MODEL=N",
                        help="override a preset's epochs, e.g. cnn-fast=8 (repeatable)")
    parser.add_argument("--backends", default=None, metavar="NAMES",
                        help="comma-separated Keras backends to train each model on, e.g. "
                             "tensorflow,jax,torch (default: KERAS_BACKEND, else tensorflow)")
    parser.add_argument("--precisions", default="float32", metavar="NAMES",
                        help="comma-separated arithmetics to train each model in: float32, "
                             "bfloat16 (mixed precision, as `kdigits --precision`)")
    parser.add_argument("--rows", type=int, default=None, metavar="N",
                        help="train on the first N rows of train.csv only (all test rows)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_ROWS[0]:,} train / {QUICK_ROWS[1]:,} test "
                             "rows, 1 epoch each")
    parser.add_argument("--data", default=str(REPO / "data"),
                        help="folder with train.csv, test.csv and solution.csv")
    parser.add_argument("--presets", default=None, metavar="FILE.py",
                        help="a Python file that registers candidate presets into "
                             "kaggle_digits.models.PRESETS before training")
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/…)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    names = [BASELINE] + [m for m in names if m != BASELINE]
    if args.best and "best" not in names:
        names.append("best")
    epochs = {m: int(n) for m, _, n in (e.partition("=") for e in args.epochs)}
    if args.quick:
        epochs = {m: 1 for m in names}
    folder = Path(args.data)
    paths = {k: str(folder / f"{k}.csv") for k in ("train", "test", "solution")}
    for path in paths.values():
        if not Path(path).is_file():
            print(f"error: {path} is missing (run `make data`)", file=sys.stderr)
            return 2
    out = Path(args.out) if args.out else (
        REPO / "bench" / "results" / f"train_speed{'-quick' if args.quick else ''}.json")

    from kaggle_digits import backend
    from kaggle_digits.errors import KdigitsError

    backends = [b.strip() for b in (args.backends or backend.name()).split(",") if b.strip()]
    for name in backends:
        os.environ["KERAS_BACKEND"] = name
        try:
            backend.require()
        except KdigitsError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    unknown = sorted(set(precisions) - {"float32", "bfloat16"})
    if unknown:
        print(f"error: unknown precision {', '.join(unknown)}; use float32, bfloat16",
              file=sys.stderr)
        return 2
    rows = QUICK_ROWS if args.quick else (args.rows, None) if args.rows else None
    info = machine()
    results = []
    # A fresh process per model and backend (spawn, one task each): clean peak memory, no
    # shared state, and each child picks its backend before it imports Keras.
    context = multiprocessing.get_context("spawn")
    for chosen in backends:
        for name in names:
            for precision in precisions:
                print(f"training {name} on {chosen} in {precision} …", flush=True)
                with futures.ProcessPoolExecutor(1, mp_context=context) as pool:
                    result = pool.submit(run_one, name, epochs.get(name), paths, rows,
                                         args.presets, chosen, precision).result()
                print(f"  {name} ({chosen} on {result['device']}, {precision}): "
                      f"{result['accuracy']:.4f} after {result['train_s']:.0f} s of training",
                      flush=True)
                results.append(result)
    summary = summarise(results)
    render(results, info, summary["baseline_train_s"])

    from kaggle_digits.fileio import write_json

    write_json(out, {"machine": info, **summary,
                     "memory_note": "peak_rss_mib: ru_maxrss of the child process that "
                                    "loaded the data, trained and predicted (TF runtime "
                                    "included)",
                     "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                     "results": results}, force=True)
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
