"""How many of the built-in test's errors no kept net gets right: a floor under `best`'s.

Reads every member `best_frontier.py` kept (``bench/results/best_members*/member-K.npz``:
each net's test probabilities with TTA), counts for each test digit how many nets read it
wrong, and draws the digits that every net reads wrong, with their label and the nets'
mean answer, so a reader can judge how many are ambiguous or mislabelled. Averaging these
nets can hardly fix a digit all of them read wrong (and cannot where they all give the same
wrong answer), so those digits stay errors for a mix of them.

    python bench/hard_digits.py        # bench/results/hard_digits.json and .png, seconds
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone without installing

TARGET_ERRORS = 84  # 99.70% of the 28,000 built-in test digits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--results", type=Path, default=REPO / "bench/results")
    parser.add_argument("--data", type=Path, default=REPO / "data")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from kaggle_digits.constants import SIDE
    from kaggle_digits.data import load_test
    from kaggle_digits.fileio import atomic_output, write_json

    labels = pd.read_csv(args.data / "solution.csv")["Label"].to_numpy()
    paths = sorted(args.results.glob("best_members*/member-*.npz"))
    if not paths:
        sys.exit(f"no kept members under {args.results} (run bench/best_frontier.py)")
    nets = {f"{p.parent.name}/{p.stem}": np.load(p)["tta"] for p in paths}
    wrong = np.array([probs.argmax(axis=1) != labels for probs in nets.values()])
    missed_by = wrong.sum(axis=0)
    mean = np.mean(list(nets.values()), axis=0)
    every = np.flatnonzero(missed_by == len(nets))
    answers = np.array([probs.argmax(axis=1)[every] for probs in nets.values()])
    report = {
        "date": dt.date.today().isoformat(),
        "nets": {name: int(w.sum()) for name, w in zip(nets, wrong, strict=True)},
        "test_digits": int(labels.size),
        "target_errors": TARGET_ERRORS,
        "missed_by_every_net": int(every.size),
        "of_which_same_wrong_answer": int((answers == answers[0]).all(axis=0).sum()),
        "missed_by_at_least": {str(k): int((missed_by >= k).sum())
                               for k in sorted({1, len(nets) // 2, len(nets) - 1, len(nets)})},
        "mean_of_all_nets_errors": int((mean.argmax(axis=1) != labels).sum()),
        "digits_missed_by_every_net": [
            {"image_id": int(i) + 1, "label": int(labels[i]), "mean_answer": int(mean[i].argmax()),
             "mean_probability": round(float(mean[i].max()), 3)} for i in every],
    }
    out = args.results / "hard_digits.json"
    write_json(out, report, force=True)  # a bench result: the latest run replaces it

    pixels = load_test(args.data / "test.csv").pixels
    columns = 9
    rows = max(1, -(-every.size // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.3, rows * 1.55))
    for ax in np.atleast_1d(axes).flat:
        ax.axis("off")
    for ax, i in zip(np.atleast_1d(axes).flat, every, strict=False):
        ax.imshow(pixels[i].reshape(SIDE, SIDE), cmap="gray_r")
        ax.set_title(f"id {i + 1}\nlabel {labels[i]}, nets {mean[i].argmax()}", fontsize=7)
    figure.suptitle(f"The {every.size} built-in test digits all {len(nets)} kept nets read "
                    "wrong", fontsize=9)
    figure.tight_layout()
    with atomic_output(out.with_suffix(".png"), force=True, binary=True) as temporary:
        figure.savefig(temporary, dpi=80, format="png")
    print(f"{len(nets)} nets; {every.size} digits every net reads wrong "
          f"({report['of_which_same_wrong_answer']} with one wrong answer); "
          f"mean of all nets: {report['mean_of_all_nets_errors']} errors; "
          f"target {TARGET_ERRORS}. Wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
