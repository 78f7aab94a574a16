"""Ensembles that mix recipes: the first k members of each `best_frontier.py` run, mixed.

`best_frontier.py` keeps each member's test probabilities (plain and with TTA) under
``bench/results/best_members[-LABEL]/``. This script takes the first k members of each
named run, for every k up to what the run kept, averages their probabilities (the mean
over members) and scores each mix on the built-in test, with the training minutes the
members took; and again with each run's mean weighed equally, which is what
``kdigits ensemble`` gives for one submission per run. Nothing is trained. Every mix is
printed, sorted by minutes; the marked ones are those no cheaper mix beats on this same
test, so the marks are a selection with the test labels: a recipe chosen from them should
be confirmed on another split (`kdigits cv`) before its score is quoted as unseen.

    python bench/mixed_ensembles.py best cnn-fast no-augmentation
    python bench/mixed_ensembles.py best=best_members cnn-fast=best_members-cnn-fast

A NAME alone reads ``best_members-NAME`` (``best`` reads ``best_members``). Writes
bench/results/mixed_ensembles.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone without installing

RESULTS = REPO / "bench" / "results"


def kept_members(folder: Path) -> list[dict]:
    """The members a run kept, in order, up to the first missing one."""
    members = []
    for number in itertools.count(1):
        path = folder / f"member-{number}.npz"
        if not path.exists():
            return members
        with np.load(path) as saved:
            record = json.loads(str(saved["record"]))
            members.append({"plain": saved["plain"], "tta": saved["tta"],
                            "minutes": record["train_minutes"],
                            "threads": record.get("threads")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("runs", nargs="+", help="NAME or NAME=FOLDER under --results")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="where the runs' member folders are, and the JSON goes")
    args = parser.parse_args()

    from kaggle_digits import builtin, data, submission_file
    from kaggle_digits.fileio import write_json

    solution = REPO / "data" / "solution.csv"
    if data.file_sha256(solution) != builtin.BUILTIN_CSV_SHA256["solution.csv"]:
        sys.exit("data/solution.csv is not the built-in one: run `make data`")
    labels = submission_file.read_label_file(solution).labels.astype(np.int64)

    runs: dict[str, list[dict]] = {}
    for text in args.runs:
        name, _, folder = text.partition("=")
        if name in runs:
            sys.exit(f"{name} is named twice: give each run once")
        folder = folder or ("best_members" if name == "best" else f"best_members-{name}")
        runs[name] = kept_members(args.results / folder)
        if not runs[name]:
            sys.exit(f"{args.results / folder} holds no members: run best_frontier.py first")
        if len(runs[name][0]["plain"]) != len(labels):
            sys.exit(f"{args.results / folder} was scored on another test (a --quick run?)")

    threads = {name: {m["threads"] for m in members} for name, members in runs.items()}
    if len(set().union(*threads.values())) > 1:
        print(f"note: members trained on different thread counts ({threads}): their minutes "
              "are not comparable", file=sys.stderr)

    mixes = []
    for counts in itertools.product(*(range(len(m) + 1) for m in runs.values())):
        if not any(counts):
            continue
        groups = [members[:k] for members, k in zip(runs.values(), counts, strict=True) if k]
        chosen = [m for group in groups for m in group]
        plain = np.mean([m["plain"] for m in chosen], axis=0)
        tta = np.mean([m["tta"] for m in chosen], axis=0)
        # `kdigits ensemble` of one submission per run weighs runs, not members, equally
        by_run = np.mean([np.mean([m["tta"] for m in group], axis=0) for group in groups],
                         axis=0)
        mixes.append({"members": dict(zip(runs, counts, strict=True)),
                      "train_minutes": round(sum(m["minutes"] for m in chosen), 1),
                      "accuracy": float((plain.argmax(1) == labels).mean()),
                      "accuracy_tta": float((tta.argmax(1) == labels).mean()),
                      "accuracy_tta_runs_weighed_equally": float(
                          (by_run.argmax(1) == labels).mean())})
    mixes.sort(key=lambda mix: (mix["train_minutes"], -mix["accuracy_tta"]))
    top = -1.0
    for mix in mixes:
        mix["frontier"] = mix["accuracy_tta"] > top  # beats every cheaper mix
        top = max(top, mix["accuracy_tta"])
        names = " + ".join(f"{k} {name}" for name, k in mix["members"].items() if k)
        print(f"{'*' if mix['frontier'] else ' '} {mix['train_minutes']:6.1f} min  "
              f"{mix['accuracy']:.2%}  TTA {mix['accuracy_tta']:.2%} (runs weighed equally "
              f"{mix['accuracy_tta_runs_weighed_equally']:.2%})  {names}")

    out = args.results / "mixed_ensembles.json"
    write_json(out, {
        "runs": {name: {"members": len(m), "threads": [x["threads"] for x in m]}
                 for name, m in runs.items()},
        "mixes": mixes, "test_rows": len(labels),
        "written": dt.datetime.now().isoformat(timespec="seconds")}, force=True)
    print(f"wrote {out} (* = more accurate with TTA than every cheaper mix)")


if __name__ == "__main__":
    main()
