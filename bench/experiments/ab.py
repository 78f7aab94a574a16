"""Scratch: interleaved A/B of training throughput, e.g. fp32 vs bf16 (python ab.py lenet3 bf16)."""

from __future__ import annotations

import statistics
import sys

from common import load_arrays
from timing import throughput


def main() -> None:
    name, flag = sys.argv[1], sys.argv[2]
    xtr, ytr, *_ = load_arrays()
    x = (xtr[:6400].reshape(-1, 28, 28, 1) / 255.0).astype("float32")
    a, b = [], []
    for _ in range(3):
        a.append(throughput(name, x, ytr[:6400]))
        b.append(throughput(f"{name}:{flag}", x, ytr[:6400]))
    print(f"{name}: {[round(v) for v in a]}  {flag}: {[round(v) for v in b]}  "
          f"median ratio {statistics.median(b) / statistics.median(a):.2f}")


if __name__ == "__main__":
    main()
