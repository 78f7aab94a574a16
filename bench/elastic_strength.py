"""Why Simard's elastic distortions hurt `best`: how many distorted digits stay readable.

A distortion is a useful augmentation only while the distorted digit keeps its label. This
script measures that directly, then what training on each strength does, on a short proxy
of `best`'s recipe (its net, its own shifts/turns/zooms, Adam 2e-3 with the cosine
schedule, ``--epochs`` epochs) trained on the first ``--rows`` rows of the built-in
train.csv and scored on the remaining rows, which no net here trains on:

1. **Readable**: one net trained without elastic distortions reads the held-out digits,
   clean and then bent by each (alpha, sigma) of the grid. What it loses on bent digits is
   an upper bound on how many of them the distortion turned into another digit or noise.
2. **Trained**: one net per (alpha, sigma), elastic distortions on, scored on the clean
   held-out digits, on the digits bent by Simard's 34/4, and on the clean digits blurred
   (Gaussian, 0.6 px): a net that reads blurred digits better than sharp ones learnt the
   blur of its training digits.

    python bench/elastic_strength.py                       # the grid below, ~25 min
    python bench/elastic_strength.py --train 34/8 --train 36/6
    python bench/elastic_strength.py --quick               # smoke run: 2,000 rows, 1 epoch

Writes bench/results/elastic_strength[-quick].json. Nothing here touches the built-in
test.csv or its labels.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone without installing

READ_GRID = ("34/4", "34/6", "34/8", "36/6", "17/4", "10/3")
TRAIN_GRID = ("34/4", "34/8", "36/6")
QUICK_ROWS = (2000, 1000)
BLUR = 0.6  # pixels: the Gaussian width of the "blurred" column


def strength(text: str) -> tuple[float, float]:
    alpha, _, sigma = text.partition("/")
    return float(alpha), float(sigma or 4.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=30_000, help="training rows")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--read", action="append", type=strength,
                        help="ALPHA/SIGMA to read bent digits at (default: a grid)")
    parser.add_argument("--train", action="append", type=strength,
                        help="ALPHA/SIGMA to train with (default: a grid; 0/4 is none)")
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 1 epoch")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import numpy as np

    from kaggle_digits import data, train
    from kaggle_digits.augment import ElasticDistortion
    from kaggle_digits.fileio import write_json

    train_set = data.load_train(REPO / "data" / "train.csv")
    rows = QUICK_ROWS[0] if args.quick else args.rows
    held_end = rows + QUICK_ROWS[1] if args.quick else len(train_set.labels)
    x_fit, y_fit = train_set.pixels[:rows], train_set.labels[:rows]
    x_held, y_held = train_set.pixels[rows:held_end], train_set.labels[rows:held_end]
    held_inputs = train.model_inputs(x_held, (None, 28, 28, 1))
    epochs = 1 if args.quick else args.epochs

    def bent(alpha: float, sigma: float) -> np.ndarray:
        """The held-out digits bent once, with a fixed seed: every net reads the same."""
        layer = ElasticDistortion(alpha=alpha, sigma=sigma, seed=2003)
        return np.concatenate([np.asarray(layer(held_inputs[i:i + 1000], training=True))
                               for i in range(0, len(held_inputs), 1000)])

    def blurred(sigma: float) -> np.ndarray:
        """The held-out digits smoothed as resampling smooths them, without moving them."""
        from scipy.ndimage import gaussian_filter

        return gaussian_filter(held_inputs, sigma=(0, sigma, sigma, 0))

    def accuracy(trained: train.TrainedModel, inputs: np.ndarray) -> float:
        # predict_proba takes uint8 pixels; bent digits are floats already scaled to [0, 1]
        model = trained.members[0]
        return float((model.predict(inputs, batch_size=2048, verbose=0).argmax(1) == y_held).mean())

    def fit(alpha: float, sigma: float) -> tuple[train.TrainedModel, float]:
        options = {"elastic": alpha, "elastic_sigma": sigma} if alpha else {}
        config = train.config_for("best", epochs=epochs, members=1, seed=args.seed,
                                  model_options=options, mix_members=0)
        started = time.perf_counter()
        trained = train.fit("best", x_fit, y_fit, config)
        return trained, time.perf_counter() - started

    result: dict[str, Any] = {"train_rows": len(y_fit), "held_rows": len(y_held),
                              "epochs": epochs, "seed": args.seed, "quick": args.quick}
    clean_net, seconds = fit(0.0, 4.0)
    clean = accuracy(clean_net, held_inputs)
    readable = []
    for alpha, sigma in args.read or [strength(s) for s in READ_GRID]:
        score = accuracy(clean_net, bent(alpha, sigma))
        readable.append({"alpha": alpha, "sigma": sigma, "accuracy": score})
        print(f"net trained without elastic: clean {clean:.2%}, bent {alpha:g}/{sigma:g} "
              f"{score:.2%} (net {(clean - score) * len(y_held):.0f} more digits misread)",
              flush=True)
    result["readable"] = {"clean": clean, "train_seconds": round(seconds), "bent": readable}

    simard, soft = bent(34.0, 4.0), blurred(BLUR)

    def scores(net: train.TrainedModel, alpha: float, sigma: float, seconds: float) -> dict:
        return {"alpha": alpha, "sigma": sigma, "clean": accuracy(net, held_inputs),
                "bent_34_4": accuracy(net, simard), "blurred": accuracy(net, soft),
                "train_seconds": round(seconds),
                "train_accuracy_last_epoch": net.history[-1]["accuracy"]}

    trained_rows = [scores(clean_net, 0.0, 4.0, result["readable"]["train_seconds"])]
    for alpha, sigma in args.train or [strength(s) for s in TRAIN_GRID]:
        net, seconds = fit(alpha, sigma)
        row = scores(net, alpha, sigma, seconds)
        trained_rows.append(row)
        print(f"trained with elastic {alpha:g}/{sigma:g}: clean {row['clean']:.2%} "
              f"({(1 - row['clean']) * len(y_held):.0f} errors), bent 34/4 "
              f"{row['bent_34_4']:.2%}, blurred {row['blurred']:.2%}, last epoch's "
              f"training accuracy {row['train_accuracy_last_epoch']:.2%}, "
              f"{seconds / 60:.1f} min", flush=True)
    result["trained"] = trained_rows
    result["written"] = dt.datetime.now().isoformat(timespec="seconds")

    out = REPO / "bench" / "results" / f"elastic_strength{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, result, force=True)  # atomic: temp file, then rename
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
