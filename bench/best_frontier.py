"""`best`'s accuracy against minutes: 1, 2, 3… members, with and without TTA.

Trains one preset's members exactly as ``kdigits submit --model NAME`` trains them
(``train.fit`` with ``config_for(NAME)``: every member on all of train.csv, member k seeded
``seed + 1000·(k-1)``), one member at a time, then scores every member alone and every
prefix of the ensemble on the built-in test.csv against solution.csv, with and without
test-time augmentation, and again on the test rows that come from MNIST's own test file
(where published MNIST accuracies are measured). The members' own epoch times give the
minutes for each prefix, so one run yields the whole frontier. Only the preset's own net
trains here (``--mix none``): `best`'s recipe mixes in two pairs of ``cnn-fast`` nets,
plain and deskewed, which ``--model cnn-fast [--option deskew=true]`` trains with the same
seeds, and `mixed_ensembles.py` mixes runs' members as ``kdigits submit --model best``
averages them.

Each finished member's test probabilities are kept under
``bench/results/best_members[-<label>]/member-<k>.npz`` and the JSON is rewritten after
every member, so a long run can be stopped and extended: a later run with the same label
and settings trains only the members it lacks (``--members 8`` after ``--members 3``).

    python bench/best_frontier.py                     # the shipped recipe
    python bench/best_frontier.py --members 3 --label members3
    python bench/best_frontier.py --option shift=0 --option rotate=0 --option zoom=0 \
        --label no-augmentation
    python bench/best_frontier.py --schedule exponential --learning-rate 1e-3
    python bench/best_frontier.py --precision bfloat16 --label bf16
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
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--schedule", choices=("constant", "cosine", "exponential"))
    parser.add_argument("--precision", choices=("float32", "bfloat16"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, help="CPU threads (default: all)")
    parser.add_argument("--option", action="append", default=[], type=parse_option,
                        help="a preset builder option, NAME=JSON (e.g. zoom=0)")
    parser.add_argument("--label", default="", help="suffix of the results file")
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 1 epoch")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from kaggle_digits import backend

    if args.threads:
        backend.limit_threads(args.threads)

    import numpy as np

    from kaggle_digits import builtin, data, predict, submission_file, train

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    paths = {name: REPO / "data" / f"{name}.csv" for name in ("train", "test", "solution")}
    for name in ("test", "solution"):
        if data.file_sha256(paths[name]) != builtin.BUILTIN_CSV_SHA256[f"{name}.csv"]:
            sys.exit(f"data/{name}.csv is not the built-in one: run `make data`")
    train_set = data.load_train(paths["train"])
    x_train, y_train = train_set.pixels, train_set.labels
    x_test = data.load_test(paths["test"]).pixels
    y_test = submission_file.read_label_file(paths["solution"]).labels.astype(np.int64)
    from_t10k = builtin.mnist_test_rows()  # where published MNIST figures are measured
    if args.quick:
        x_train, y_train = x_train[:QUICK_ROWS[0]], y_train[:QUICK_ROWS[0]]
        x_test, y_test = x_test[:QUICK_ROWS[1]], y_test[:QUICK_ROWS[1]]
        from_t10k = from_t10k[:QUICK_ROWS[1]]

    overrides: dict[str, Any] = {"members": args.members, "seed": args.seed,
                                 "epochs": 1 if args.quick else args.epochs,
                                 "batch_size": args.batch_size,
                                 "learning_rate": args.learning_rate,
                                 # one architecture's members: mixes are mixed_ensembles.py's
                                 "mix_members": 0}
    if args.schedule:
        overrides["schedule"] = args.schedule
    if args.precision:
        overrides["precision"] = args.precision
    if args.option:
        overrides["model_options"] = dict(args.option)
    config = train.config_for(args.model, **overrides)
    print(f"{args.model}: {config}", flush=True)

    label = ("-quick" if args.quick else "") + (f"-{args.label}" if args.label else "")
    results = REPO / "bench" / "results"
    kept = results / f"best_members{label}"
    kept.mkdir(parents=True, exist_ok=True)
    # What makes members comparable: the recipe and the data. The thread count changes a
    # member's last digits, not its recipe, so it is recorded per member instead.
    settings = {key: value for key, value in config.to_json().items()
                if key not in ("members", "mix_with", "mix_members", "mix_variants")}
    settings.update(train_rows=len(y_train), test_rows=len(y_test))

    class Log(train.Progress):
        member = 0

        def epoch_done(self, epoch: int, logs: dict, seconds: float) -> None:
            print(f"{dt.datetime.now():%H:%M:%S} member {self.member} epoch {epoch}/"
                  f"{config.epochs}: loss {logs.get('loss', float('nan')):.4f} "
                  f"acc {logs.get('accuracy', float('nan')):.4f} {seconds:.1f} s", flush=True)

        def fit_started(self, preset: str, member: int, members: int, epochs: int,
                        steps: int) -> None:
            self.member = member

    def member_file(number: int) -> Path:
        return kept / f"member-{number}.npz"

    def train_member(number: int) -> None:
        load = os.getloadavg()[0]
        trained = train.fit(args.model, x_train, y_train, config, progress=Log(),
                            member=number)
        minutes = sum(h["seconds"] for h in trained.history) / 60
        t0 = time.perf_counter()
        plain = trained.predict_proba(x_test)
        t1 = time.perf_counter()
        tta = predict.average_probabilities([trained.predict_proba], x_test, tta=True)
        t2 = time.perf_counter()
        record = {"settings": settings, "member": number, "threads": args.threads,
                  "train_minutes": minutes,
                  "predict_seconds": t1 - t0, "predict_seconds_tta": t2 - t1,
                  "load_average_start": load, "finished": dt.datetime.now().isoformat(
                      timespec="seconds")}
        temporary = member_file(number).with_suffix(".tmp.npz")
        np.savez(temporary, plain=plain, tta=tta, record=json.dumps(record))
        temporary.replace(member_file(number))

    def load_member(number: int) -> tuple[np.ndarray, np.ndarray, dict] | None:
        if not member_file(number).exists():
            return None
        with np.load(member_file(number)) as saved:
            record = json.loads(str(saved["record"]))
            record.setdefault("threads", record["settings"].pop("threads", None))
            record["settings"].setdefault("precision", "float32")  # kept before --precision
            if record["settings"] != settings:
                sys.exit(f"{member_file(number)} was trained with other settings: "
                         "use another --label")
            return saved["plain"], saved["tta"], record

    def frontier() -> list[dict]:
        rows: list[dict] = []
        plain_sum = np.zeros((len(x_test), 10))
        tta_sum = np.zeros((len(x_test), 10))
        minutes = 0.0
        for number in range(1, config.members + 1):
            loaded = load_member(number)
            if loaded is None:
                break
            plain, tta, record = loaded
            plain_sum += plain
            tta_sum += tta
            minutes += record["train_minutes"]
            rows.append({
                "members": number, "train_minutes": round(minutes, 2),
                "member_train_minutes": round(record["train_minutes"], 2),
                "member_accuracy": float((plain.argmax(1) == y_test).mean()),
                "member_accuracy_tta": float((tta.argmax(1) == y_test).mean()),
                "ensemble_accuracy": float((plain_sum.argmax(1) == y_test).mean()),
                "ensemble_accuracy_tta": float((tta_sum.argmax(1) == y_test).mean()),
                "member_accuracy_mnist_test_rows": float(
                    (plain.argmax(1) == y_test)[from_t10k].mean()),
                "ensemble_accuracy_mnist_test_rows": float(
                    (plain_sum.argmax(1) == y_test)[from_t10k].mean()),
                "predict_seconds_per_member": round(record["predict_seconds"], 1),
                "predict_seconds_per_member_tta": round(record["predict_seconds_tta"], 1),
                "load_average_start": round(record["load_average_start"], 2),
                "threads": record["threads"],
            })
        return rows

    def write(rows: list[dict]) -> Path:
        result = {
            "model": args.model, "config": config.to_json(),
            "quick": args.quick, "train_rows": len(y_train), "test_rows": len(y_test),
            "rows": rows, "members_kept_in": str(kept.relative_to(REPO)),
            "wall_seconds_this_run": round(time.perf_counter() - started, 1),
            "peak_rss_mib_this_run": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "load_average_before_now": [load_before, os.getloadavg()[0]],
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "written": dt.datetime.now().isoformat(timespec="seconds"),
        }
        out = results / f"best_frontier{label}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        return out

    for number in range(1, config.members + 1):
        if load_member(number) is None:
            train_member(number)
            write(frontier())
        row = frontier()[number - 1]
        print(f"{number} member(s), {row['train_minutes']:.1f} train min: member "
              f"{row['member_accuracy']:.4%} (TTA {row['member_accuracy_tta']:.4%}), "
              f"ensemble {row['ensemble_accuracy']:.4%} "
              f"(TTA {row['ensemble_accuracy_tta']:.4%}); on the {from_t10k.sum():,} MNIST "
              f"test digits: member {row['member_accuracy_mnist_test_rows']:.2%}, ensemble "
              f"{row['ensemble_accuracy_mnist_test_rows']:.2%}", flush=True)
    print(f"wrote {write(frontier())}")


if __name__ == "__main__":
    main()
