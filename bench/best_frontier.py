"""`best`'s accuracy against minutes: 1, 2, 3… members, with and without TTA, in one fit.

Trains exactly what ``kdigits submit --model best`` trains (``train.fit`` with
``config_for("best")``: every member on all of train.csv, member k seeded
``seed + 1000·(k-1)``), then scores every member alone and every prefix of the ensemble on
the built-in test.csv against solution.csv, with and without test-time augmentation. The
members' own epoch times give the minutes for each prefix, so one run yields the whole
frontier, and its last row is the submission ``kdigits submit --model best`` writes.

    python bench/best_frontier.py                     # the shipped recipe
    python bench/best_frontier.py --members 2 --epochs 20
    python bench/best_frontier.py --option shift=0 --option rotate=0 --option zoom=0
    python bench/best_frontier.py --quick             # smoke run: 2,000 rows, 1 epoch

Writes bench/results/best_frontier[-<label>].json and prints one line per prefix. The test
labels score the result only: nothing is trained on or selected with them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone without installing

QUICK_ROWS = (2000, 1000)


def parse_option(text: str) -> tuple[str, Any]:
    name, _, value = text.partition("=")
    return name, json.loads(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", default="best")
    parser.add_argument("--members", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--option", action="append", default=[], type=parse_option,
                        help="a preset builder option, NAME=JSON (e.g. zoom=0)")
    parser.add_argument("--label", default="", help="suffix of the results file")
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 1 epoch")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import numpy as np

    from kaggle_digits import builtin, data, predict, submission_file, train

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    paths = {name: REPO / "data" / f"{name}.csv" for name in ("train", "test", "solution")}
    if data.file_sha256(paths["solution"]) != builtin.BUILTIN_CSV_SHA256["solution.csv"]:
        sys.exit("data/solution.csv is not the built-in one: run `make data`")
    train_set = data.load_train(paths["train"])
    x_train, y_train = train_set.pixels, train_set.labels
    x_test = data.load_test(paths["test"]).pixels
    y_test = submission_file.read_label_file(paths["solution"]).labels.astype(np.int64)
    if args.quick:
        x_train, y_train = x_train[:QUICK_ROWS[0]], y_train[:QUICK_ROWS[0]]
        x_test, y_test = x_test[:QUICK_ROWS[1]], y_test[:QUICK_ROWS[1]]

    overrides: dict[str, Any] = {"members": args.members, "seed": args.seed,
                                 "epochs": 1 if args.quick else args.epochs}
    if args.option:
        overrides["model_options"] = dict(args.option)
    config = train.config_for(args.model, **overrides)
    print(f"{args.model}: {config}", flush=True)

    class Log(train.Progress):
        def epoch_done(self, epoch: int, logs: dict, seconds: float) -> None:
            print(f"{dt.datetime.now():%H:%M:%S} member {self.member} epoch {epoch}/"
                  f"{config.epochs}: loss {logs.get('loss', float('nan')):.4f} "
                  f"acc {logs.get('accuracy', float('nan')):.4f} {seconds:.1f} s", flush=True)

        def fit_started(self, preset: str, member: int, members: int, epochs: int,
                        steps: int) -> None:
            self.member = member

    trained = train.fit(args.model, x_train, y_train, config, progress=Log())
    fit_seconds = time.perf_counter() - started

    rows = []
    single, plain_sum, tta_sum = [], np.zeros((len(x_test), 10)), np.zeros((len(x_test), 10))
    minutes = 0.0
    for k, member in enumerate(trained.members, start=1):
        one = train.TrainedModel(trained.preset, [member], [], {}, config)
        t0 = time.perf_counter()
        plain = one.predict_proba(x_test)
        t1 = time.perf_counter()
        tta = predict.average_probabilities([one.predict_proba], x_test, tta=True)
        t2 = time.perf_counter()
        plain_sum += plain
        tta_sum += tta
        minutes += sum(h["seconds"] for h in trained.history if h.get("member") == k) / 60
        single.append(float((plain.argmax(1) == y_test).mean()))
        rows.append({
            "members": k, "train_minutes": round(minutes, 2),
            "member_accuracy": single[-1],
            "member_accuracy_tta": float((tta.argmax(1) == y_test).mean()),
            "ensemble_accuracy": float((plain_sum.argmax(1) == y_test).mean()),
            "ensemble_accuracy_tta": float((tta_sum.argmax(1) == y_test).mean()),
            "predict_seconds_per_member": round(t1 - t0, 1),
            "predict_seconds_per_member_tta": round(t2 - t1, 1),
        })
        r = rows[-1]
        print(f"{k} member(s), {minutes:.1f} train min: member {r['member_accuracy']:.4%} "
              f"(TTA {r['member_accuracy_tta']:.4%}), ensemble {r['ensemble_accuracy']:.4%} "
              f"(TTA {r['ensemble_accuracy_tta']:.4%})", flush=True)

    result = {
        "model": args.model, "config": config.to_json(), "quick": args.quick,
        "train_rows": len(y_train), "test_rows": len(y_test),
        "rows": rows, "fit_wall_seconds": round(fit_seconds, 1),
        "total_wall_seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_average_before_after": [load_before, os.getloadavg()[0]],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
    }
    label = ("-quick" if args.quick else "") + (f"-{args.label}" if args.label else "")
    out = REPO / "bench" / "results" / f"best_frontier{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
