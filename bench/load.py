"""How fast does kdigits load train.csv, next to plain pandas on the same file?

Three timings of the same file, interleaved in one process so machine load hits them alike:

- ``pandas``: ``pandas.read_csv(path)``, the baseline a notebook would use (no validation);
- ``cold``:   ``load_train(path, cache=False)``, read + hash + full validation + parse;
- ``cached``: ``load_train(path)`` with its arrays already cached (hash + one ``np.load``).

Each is the median of ``--repeats`` runs, wall clock and CPU. Module imports are warmed up
first and excluded. Ratios to pandas are the figures to compare across machines; the
absolute targets (cold ≤ 1.5 s, cached ≤ 0.2 s) are for a 2-core machine.
Results go to bench/results/load.json.

    .venv/bin/python bench/load.py [data/train.csv] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGETS = {"cold": 1.5, "cached": 0.2}


def timed(job) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    job()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default=str(REPO / "data" / "train.csv"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "load.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kdigits-bench-") as cache:
        os.environ["KDIGITS_CACHE_DIR"] = cache  # never time (or touch) the user's cache
        import numpy as np
        import pandas as pd
        import pyarrow
        import pyarrow.csv  # warm the import, as a long-lived process would

        from kaggle_digits import __version__, data
        from kaggle_digits.fileio import write_json

        path = Path(args.path)
        load_before = os.getloadavg()
        first_wall, first_cpu = timed(lambda: data.load_train(path))  # parses, fills cache
        jobs = {
            "pandas": lambda: pd.read_csv(path),
            "cold": lambda: data.load_train(path, cache=False),
            "cached": lambda: data.load_train(path),
        }
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in jobs}
        for _ in range(args.repeats):
            for name, job in jobs.items():
                samples[name].append(timed(job))
        digits = data.load_train(path)
        reference = pd.read_csv(path)
        same = bool(np.array_equal(reference.iloc[:, 1:].to_numpy(), digits.pixels)
                    and np.array_equal(reference["label"].to_numpy(), digits.labels))
        load_after = os.getloadavg()

    wall = {name: statistics.median(w for w, _ in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(c for _, c in runs) for name, runs in samples.items()}
    result = {
        "file": str(path), "rows": len(digits), "sha256": digits.sha256,
        "bytes": path.stat().st_size, "repeats": args.repeats,
        "wall_s": {k: round(v, 4) for k, v in wall.items()},
        "cpu_s": {k: round(v, 4) for k, v in cpu.items()},
        "first_load_with_cache_write_s": round(first_wall, 4),
        "first_load_cpu_s": round(first_cpu, 4),
        "ratios": {
            "cold_over_pandas": round(wall["cold"] / wall["pandas"], 3),
            "cached_over_pandas": round(wall["cached"] / wall["pandas"], 4),
            "cached_over_cold": round(wall["cached"] / wall["cold"], 4),
        },
        "targets_s": TARGETS,
        "meets_targets": {k: wall[k] <= v for k, v in TARGETS.items()},
        "same_arrays_as_pandas": same,
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before,
                    "loadavg_after": load_after, "python": platform.python_version(),
                    "platform": platform.platform()},
        "versions": {"kdigits": __version__, "pandas": pd.__version__,
                     "numpy": np.__version__, "pyarrow": pyarrow.__version__},
    }
    write_json(args.out, result, force=True)

    print(f"{path}: {len(digits):,} rows, {path.stat().st_size / 1e6:.1f} MB, "
          f"median of {args.repeats} (load average {load_before[0]:.1f})")
    for name in jobs:
        target = f"  target ≤ {TARGETS[name]} s" if name in TARGETS else ""
        print(f"  {name:<7} {wall[name]:7.3f} s wall  {cpu[name]:7.3f} s cpu{target}")
    ratios = result["ratios"]
    print(f"  cold/pandas {ratios['cold_over_pandas']:.2f}   "
          f"cached/pandas {ratios['cached_over_pandas']:.3f}   "
          f"cached/cold {ratios['cached_over_cold']:.3f}   same arrays as pandas: {same}")
    print(f"  → {args.out}")


if __name__ == "__main__":
    main()
