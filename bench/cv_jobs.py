"""`kdigits cv --jobs 1` against `--jobs 2` (and `--jobs 1 --threads 1`), wall-clock.

Each setting runs the real command in a fresh process on the same folds, in alternating
order over ``--rounds`` rounds, so both see the same machine load; the table reports
medians and the ratio to ``--jobs 1`` measured in the same script. Results go to
bench/results/cv_jobs.json.

    python bench/cv_jobs.py                       # cnn-fast, 20% of rows, 4 folds, 2 epochs
    python bench/cv_jobs.py --model mlp --percent 50 --rounds 3
    python bench/cv_jobs.py --model best --members 2 --folds 1   # members in workers
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {"jobs 1": ["--jobs", "1"], "jobs 2": ["--jobs", "2"],
            "jobs 1, threads 1": ["--jobs", "1", "--threads", "1"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", default="cnn-fast")
    parser.add_argument("--percent", default="20")
    parser.add_argument("--folds", default="4")
    parser.add_argument("--epochs", default="2")
    parser.add_argument("--members", help="seeded members per fold (workers share them)")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {name: [] for name in SETTINGS}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            order = list(SETTINGS) if round_ % 2 == 0 else list(reversed(SETTINGS))
            for name in order:
                command = [sys.executable, "-m", "kaggle_digits", "cv", "--model", args.model,
                           "--percent", args.percent, "--folds", args.folds, "--epochs",
                           args.epochs, "--holdout", "0.1", "--runs-dir",
                           str(Path(scratch) / f"{round_}-{name.replace(' ', '')}"),
                           *(["--members", args.members] if args.members else []),
                           *SETTINGS[name]]
                started = time.perf_counter()
                done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
                if done.returncode != 0:
                    sys.exit(done.stderr[-2000:])
                seconds[name].append(time.perf_counter() - started)
                print(f"round {round_ + 1} {name}: {seconds[name][-1]:.1f} s", flush=True)
    load.append(os.getloadavg()[0])
    base = statistics.median(seconds["jobs 1"])
    result = {"settings": {name: {"median_s": round(statistics.median(v), 1),
                                  "runs_s": [round(x, 1) for x in v],
                                  "ratio_to_jobs_1": round(statistics.median(v) / base, 2)}
                           for name, v in seconds.items()},
              "model": args.model, "percent": args.percent, "folds": args.folds,
              "epochs": args.epochs, "members": args.members, "cpus": os.cpu_count(),
              "load_before_after": load}
    label = f"-{args.model}-members{args.members}" if args.members else ""
    out = REPO / "bench" / "results" / f"cv_jobs{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for name, row in result["settings"].items():
        print(f"{name:>18}: {row['median_s']:6.1f} s  ({row['ratio_to_jobs_1']:.2f}× jobs 1)")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
