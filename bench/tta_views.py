"""Which test-time views help `best`: chosen on cv rows no model saw, then checked once on
the built-in test.

kdigits averages each digit with its four 1-pixel shifts (`predict.TTA_SHIFTS`). This
script scores other views (diagonal and 2-pixel shifts, small turns, zooms) with finished
`kdigits cv --folds 1` runs' fold models. Each group of runs given with ``--runs`` (one
split: a `best` run and, for the mix, a `cnn-fast` run of the same split, averaged as
`best`'s mix averages them) is scored on its own unseen rows (the fold's test rows and
the holdout) and on the built-in test. View sets are ranked by errors on the unseen rows
of all groups pooled; the built-in test's errors are printed beside them, never used to
choose.

    python bench/tta_views.py --runs runs/A-best runs/A-cnn-fast --runs runs/B-best runs/B-cnn-fast

Writes bench/results/tta_views.json. ``--sets NAME…`` scores only those view sets (and
predicts only their views). Each view's probabilities are cached under ``--cache``
(default: a folder in the system's temp directory), keyed by the model file's size and
time and the data's SHA-256, so a second call costs no predictions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone without installing

PARTS = ("oof.csv", "holdout.csv")  # a cv run's rows its fold model never trained on

# name -> (kind, amount): a shift (dy, dx) in pixels, a turn in degrees, a zoom factor.
VIEWS: dict[str, tuple[str, tuple[float, ...]]] = {
    "id": ("shift", (0, 0)),
    **{f"s{dy:+d}{dx:+d}": ("shift", (dy, dx))
       for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1),
                      (-2, 0), (2, 0), (0, -2), (0, 2))},
    **{f"r{angle:+d}": ("turn", (angle,)) for angle in (-10, -5, 5, 10)},
    **{f"z{factor}": ("zoom", (factor,)) for factor in (0.9, 0.95, 1.05, 1.1)},
}
SHIPPED = ["id", "s-1+0", "s+1+0", "s+0-1", "s+0+1"]
DIAGONALS = ["s-1-1", "s-1+1", "s+1-1", "s+1+1"]
TWO_PIXELS = ["s-2+0", "s+2+0", "s+0-2", "s+0+2"]
TURNS5, TURNS10 = ["r-5", "r+5"], ["r-10", "r+10"]
ZOOMS5, ZOOMS10 = ["z0.95", "z1.05"], ["z0.9", "z1.1"]
VIEW_SETS = {
    "none": ["id"],
    "shipped (4 shifts)": SHIPPED,
    "shipped + diagonals": SHIPPED + DIAGONALS,
    "shipped + 2-px shifts": SHIPPED + TWO_PIXELS,
    "shipped + turns ±5°": SHIPPED + TURNS5,
    "shipped + turns ±10°": SHIPPED + TURNS10,
    "shipped + zooms ±5%": SHIPPED + ZOOMS5,
    "shipped + zooms ±10%": SHIPPED + ZOOMS10,
    "shipped + turns ±5° + zooms ±5%": SHIPPED + TURNS5 + ZOOMS5,
    "shipped + diagonals + turns ±5° + zooms ±5%": SHIPPED + DIAGONALS + TURNS5 + ZOOMS5,
    "id + turns ±5°": ["id", *TURNS5],
    "id + zooms ±5%": ["id", *ZOOMS5],
    "all 21 views": list(VIEWS),
}


def view(pixels: np.ndarray, name: str) -> np.ndarray:
    """The N×784 uint8 digits as view ``name`` shows them; ink moved off the edge is gone,
    and the new background is 0, as in MNIST."""
    from scipy import ndimage

    from kaggle_digits.constants import SIDE
    from kaggle_digits.predict import shift_images

    kind, amount = VIEWS[name]
    if kind == "shift":
        return pixels if amount == (0, 0) else shift_images(pixels, *map(int, amount))
    images = pixels.reshape(-1, SIDE, SIDE).astype(np.float32)
    if kind == "turn":
        moved = ndimage.rotate(images, amount[0], axes=(1, 2), reshape=False, order=1)
    else:  # zoom about the centre: output pixel o reads input pixel centre + (o - centre) / f
        scale = 1 / amount[0]
        matrix = np.diag([1.0, scale, scale])
        centre = (SIDE - 1) / 2
        offset = np.array([0.0, centre * (1 - scale), centre * (1 - scale)])
        moved = ndimage.affine_transform(images, matrix, offset=offset, order=1)
    return np.clip(np.rint(moved), 0, 255).astype(np.uint8).reshape(len(pixels), -1)


def cached(cache: Path, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``compute()``, kept under ``key``; written atomically, so a stopped run leaves no
    half-written file for the next one to trip on."""
    from kaggle_digits.fileio import atomic_output

    path = cache / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".npy")
    if path.exists():
        return np.load(path)
    result = compute()
    with atomic_output(path, binary=True) as handle:
        np.save(handle, result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", nargs="+", action="append", type=Path, required=True,
                        help="finished cv runs of one split: best, then its mix partner")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "kdigits-tta-views")
    parser.add_argument("--data", type=Path, default=REPO / "data",
                        help="the folder of the built-in test.csv and solution.csv")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/tta_views.json")
    parser.add_argument("--sets", nargs="+", choices=list(VIEW_SETS), default=list(VIEW_SETS),
                        metavar="SET", help="view sets to score (default: all)")
    args = parser.parse_args()
    chosen = {name: VIEW_SETS[name] for name in args.sets}
    needed = [name for name in VIEWS if any(name in views for views in chosen.values())]

    import pandas as pd

    from kaggle_digits import runs
    from kaggle_digits.data import load_test, load_train
    from kaggle_digits.fileio import write_json
    from kaggle_digits.train import load_trained

    args.cache.mkdir(parents=True, exist_ok=True)
    test = load_test(args.data / "test.csv")
    solution = pd.read_csv(args.data / "solution.csv")["Label"].to_numpy()
    groups = []
    for group in args.runs:
        loaded = [runs.load_run(path) for path in group]
        for run in loaded:
            if run.metrics is None or len(run.model_paths) != 1:
                sys.exit(f"{run.path}: a finished `kdigits cv --folds 1` run is needed (its "
                         "one fold model never saw the test rows or the holdout)")
        train = load_train(loaded[0].config["data"]["train"])
        unseen = pd.concat([pd.read_csv(loaded[0].path / part) for part in PARTS])
        for run in loaded[1:]:
            other = pd.concat([pd.read_csv(run.path / part) for part in PARTS])
            if not np.array_equal(other["row"].to_numpy(), unseen["row"].to_numpy()):
                sys.exit(f"{run.path} is another split than {loaded[0].path}")
        rows = unseen["row"].to_numpy()
        models = {path: load_trained(path) for run in loaded for path in run.model_paths}
        probs: dict[str, dict[str, np.ndarray]] = {"unseen": {}, "test": {}}
        for name in needed:
            for part, pixels, sha in (("unseen", train.pixels[rows], train.sha256),
                                      ("test", test.pixels, test.sha256)):
                shown = view(pixels, name)
                probs[part][name] = np.mean([  # the mix: best's net and the pair's mean
                    cached(args.cache, f"{path.resolve()}|{path.stat().st_size}|"
                                       f"{path.stat().st_mtime_ns}|{sha}|{name}|{part}",
                           lambda model=model, shown=shown: model.predict_proba(shown))
                    for path, model in models.items()], axis=0)
            print(f"{group[0].name}: view {name} done", flush=True)
        groups.append({"runs": [str(p) for p in group], "labels": unseen["label"].to_numpy(),
                       "probs": probs})

    table = {}
    for set_name, names in chosen.items():
        row = {"views": names, "unseen_errors": 0, "unseen_rows": 0, "test_errors": []}
        for group in groups:
            for part, labels in (("unseen", group["labels"]), ("test", solution)):
                mean = np.mean([group["probs"][part][n] for n in names], axis=0)
                errors = int((mean.argmax(axis=1) != labels).sum())
                if part == "unseen":
                    row["unseen_errors"] += errors
                    row["unseen_rows"] += len(labels)
                else:
                    row["test_errors"].append(errors)
        table[set_name] = row
        print(f"{set_name:<48} unseen {row['unseen_errors']:>4} / {row['unseen_rows']}"
              f"   built-in test {row['test_errors']}")
    write_json(args.out, {"date": dt.date.today().isoformat(),
                          "runs": [g["runs"] for g in groups], "sets": table}, force=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
