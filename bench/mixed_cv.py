"""A mixed ensemble checked on a split it was not chosen on: finished `kdigits cv` runs mixed.

`mixed_ensembles.py` picks mixes on the built-in test, so a mix it marks is selected with
those labels. To quote a mix's accuracy honestly it is trained again on another split:
one `kdigits cv` run per recipe, all on the same split (same train.csv, ``--seed``,
``--folds`` and ``--holdout``). This script averages the runs' saved class probabilities
(``oof.csv`` and ``holdout.csv``) with each run weighed by its members, as the mean over
all members is, and again with the runs weighed equally (what ``kdigits ensemble`` gives),
and prints each run and the mix with caret's exact 95% confidence interval.

    kdigits cv --model best --members 1 --folds 1 --seed 7 --runs-dir R
    kdigits cv --model cnn-fast --members 2 --folds 1 --seed 7 --runs-dir R
    python bench/mixed_cv.py R/<best run> R/<cnn-fast run>

``--weights 2,1`` adds a mix with each run's say given: a `best` run (Deotte's net and its
`cnn-fast` pair, half each) weighed 2 against another pair's 1 is the mean of all three,
a third each, as if `best` mixed both pairs in (bench/README.md, "Deskewed digits").

Writes mixed_cv.json beside the first run's folder (or to ``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone without installing

PARTS = ("oof.csv", "holdout.csv")


def scored(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy with caret's exact 95% interval, and the errors behind it."""
    from kaggle_digits import stats

    predicted = probabilities.argmax(axis=1)
    table = stats.confusion_stats(predicted, labels, list(range(10)))
    return {"accuracy": table.accuracy, "lower": table.overall["accuracy_lower"],
            "upper": table.overall["accuracy_upper"],
            "errors": int((predicted != labels).sum())}


def run_labels(loaded: list) -> list[str]:
    """Each run as its model and members, and where two runs share that (a plain and a
    deskewed `cnn-fast` pair), also by its --name or folder, so neither row hides the other."""
    plain = [f"{run.config['model']} ×{run.config['training']['members']}" for run in loaded]
    named = [label if plain.count(label) == 1
             else f"{label} {run.config.get('name') or run.path.name}"
             for label, run in zip(plain, loaded, strict=True)]
    return [label if named.count(label) == 1 else f"{label} #{k}"
            for k, label in enumerate(named, start=1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished kdigits cv run folders")
    parser.add_argument("--out", type=Path, help="the JSON to write")
    parser.add_argument("--weights", help="each run's say, comma-separated in the runs' order "
                                          "(e.g. 2,1): one more mix")
    args = parser.parse_args()
    from kaggle_digits.ensemble import parse_weights
    from kaggle_digits.errors import KdigitsError

    say = None
    if args.weights:
        try:
            say = np.array(parse_weights(args.weights, [str(run) for run in args.runs]))
        except KdigitsError as error:
            sys.exit(f"error: {error}")

    import pandas as pd

    from kaggle_digits import runs
    from kaggle_digits.fileio import write_json

    loaded = [runs.load_run(path) for path in args.runs]
    unfinished = [run.path.name for run in loaded if run.metrics is None]
    if unfinished:
        sys.exit(f"not finished: {', '.join(unfinished)}")
    splits = {json.dumps([run.config["data"]["train_sha256"], run.config["split"]],
                         sort_keys=True) for run in loaded}
    if len(splits) > 1:
        sys.exit("the runs were made on different data or splits: nothing to mix")
    weights = np.array([run.config["training"]["members"] for run in loaded], dtype=float)

    names = run_labels(loaded)
    result: dict = {"runs": [{"run": str(run.path), "label": label, "model": run.config["model"],
                              "members": int(w), "tta": run.config["training"].get("tta")}
                             for run, label, w in zip(loaded, names, weights, strict=True)],
                    "weights": args.weights}
    for part in PARTS:
        frames = [pd.read_csv(run.path / part) for run in loaded]
        first = frames[0]
        for frame in frames[1:]:
            if not (frame["row"].equals(first["row"]) and frame["label"].equals(first["label"])):
                sys.exit(f"{part}: the runs predict other rows: not the same split")
        columns = [f"prob_{k}" for k in range(10)]
        probabilities = np.stack([frame[columns].to_numpy() for frame in frames])
        labels = first["label"].to_numpy()

        rows = {label: scored(p, labels)
                for label, p in zip(names, probabilities, strict=True)}
        rows["mix, members weighed equally"] = scored(
            np.tensordot(weights / weights.sum(), probabilities, axes=1), labels)
        rows["mix, runs weighed equally"] = scored(probabilities.mean(axis=0), labels)
        if say is not None:
            rows[f"mix, weighed {args.weights}"] = scored(
                np.tensordot(say / say.sum(), probabilities, axes=1), labels)
        result[part.removesuffix(".csv")] = {"rows": len(labels), **rows}
        for name, row in rows.items():
            print(f"{part:12} {name:32} {row['accuracy']:.2%} "
                  f"({row['lower']:.2%}–{row['upper']:.2%}) {row['errors']} errors "
                  f"of {len(labels):,}")
    result["written"] = dt.datetime.now().isoformat(timespec="seconds")
    out = args.out or loaded[0].path.parent / "mixed_cv.json"
    write_json(out, result, force=True)  # atomic: temp file, then rename
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
