"""Pseudo-labelling: does training again on the test digits a teacher is sure of pay?

A common Kaggle trick trains a second time on train.csv plus the test.csv digits whose
predicted label is nearly certain. No test label is used:
the labels the student learns are the teacher's answers. This measures it on a recipe
(default `cnn-fast`, as shipped, TTA on) for each seed and split:

* **teacher**: the recipe trained on the 42,000 training rows, scored on the 28,000 test
  rows with TTA;
* **student**: the same recipe and seed trained on the training rows plus every test
  digit the teacher gives at least ``--confidence`` (its TTA probability), labelled with
  the teacher's answer, then scored on all 28,000 test rows the same way;
* **control** (``--control``): the teacher's recipe trained on the training rows alone for
  as many steps as the student took (epochs scaled by the row counts), so a gain that is
  only more training is not credited to the pseudo-labels.
* **teacher from a file** (``--teacher FILE.probs.npy``, built-in split only): a stronger
  model's saved test probabilities (a `kdigits submit --model best` bundle's) teach instead,
  and the student is also mixed back with that teacher (the ``mix`` rows), the question
  being whether a cheap student adds to the model that taught it.

Splits are `default_spread.py`'s: ``builtin`` (data/train.csv → data/test.csv) and
``reshuffled`` (the 70,000 MNIST digits shuffled with seed 2013, cut 42,000 / 28,000), a
split no recipe was tuned on. The test labels only score (and count how many pseudo-labels
were wrong): nothing is trained on or selected with them.

    python bench/pseudo_labels.py                         # cnn-fast, seeds 1 2, both splits
    python bench/pseudo_labels.py --control --seeds 1 2 3
    python bench/pseudo_labels.py --quick                 # smoke run: 2,000 rows, 1 epoch
    python bench/pseudo_labels.py --splits builtin --seeds 1 --label best \
        --teacher submissions/submission-best-….probs.npy

Each fit's TTA probabilities are kept in bench/results/pseudo_labels[-LABEL]/ (a rerun
reuses them, so an interrupted run goes on where it stopped), and
bench/results/pseudo_labels[-LABEL].json is rewritten after every fit with each fit's
errors, McNemar's exact test of student against teacher (with ``--control`` also the
student against the control and the control against the teacher), and totals pooled over
the fits (a digit counts once per fit that read it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone without installing
sys.path.insert(0, str(REPO / "bench"))

from default_spread import QUICK_ROWS, builtin_split, reshuffled_split  # noqa: E402

from kaggle_digits.stats import exact_mcnemar_p, paired_exact_mcnemar  # noqa: E402

# who is tested against whom, first against second, where both were trained
PAIRS = (("student", "teacher"), ("student", "control"), ("control", "teacher"),
         ("mix", "teacher"))


def paired(first: np.ndarray, second: np.ndarray, labels: np.ndarray) -> dict:
    """Digits right only in ``first`` / only in ``second``, with McNemar's exact p-value."""
    test = paired_exact_mcnemar(first == labels, second == labels)
    return {"right_only_first": test.right_only_first,
            "right_only_second": test.right_only_second, "mcnemar_exact_p": test.p_value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", default="cnn-fast")
    parser.add_argument("--epochs", type=int, help="default: the recipe's")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--splits", nargs="+", default=["builtin", "reshuffled"],
                        choices=["builtin", "reshuffled"])
    parser.add_argument("--confidence", type=float, default=0.99,
                        help="least teacher probability for a test digit to be learned")
    parser.add_argument("--control", action="store_true",
                        help="also train the teacher's recipe for the student's steps")
    parser.add_argument("--teacher", type=Path, metavar="FILE.probs.npy",
                        help="teach with a submission's saved probabilities for the built-in "
                             "test (e.g. `best`'s) instead of training a teacher")
    parser.add_argument("--label", default="", help="suffix of the results")
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 1 epoch")
    parser.add_argument("--out", type=Path, help="the JSON to write (the kept fits go in a "
                        "folder of the same name without .json)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from kaggle_digits import predict, train
    from kaggle_digits.fileio import write_bytes, write_json

    label = ("-quick" if args.quick else "") + (f"-{args.label}" if args.label else "")
    out = args.out or REPO / "bench" / "results" / f"pseudo_labels{label}.json"
    if out.suffix != ".json":
        sys.exit(f"--out {out}: the results file must end in .json")
    teacher_file = None
    if args.teacher:
        if args.splits != ["builtin"] or args.quick:
            sys.exit("--teacher is a submission for the built-in test: add --splits builtin, "
                     "without --quick")
        from kaggle_digits.data import file_sha256

        teacher_file = {"path": str(args.teacher), "sha256": file_sha256(args.teacher)}
        given_teacher = np.load(args.teacher)
    kept = out.with_suffix("")
    kept.mkdir(parents=True, exist_ok=True)
    makers = {"builtin": builtin_split, "reshuffled": reshuffled_split}

    def probabilities(kind: str, split: str, seed: int, epochs: int | None,
                      x: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, dict]:
        """One fit's TTA probabilities on the test rows, from the kept file or trained now."""
        path = kept / f"{split}-seed{seed}-{kind}.npz"
        recipe = {"model": args.model, "epochs": epochs, "rows": len(y),
                  "quick": args.quick,
                  "confidence": args.confidence if kind == "student" else None}
        if kind == "student" and teacher_file:
            recipe["teacher"] = teacher_file
        if path.exists():
            with np.load(path) as saved:
                info = json.loads(str(saved["info"]))
                if info["recipe"] == recipe:
                    return saved["probabilities"], info
            sys.exit(f"{path} was trained with other settings: remove it or use --label")
        config = train.config_for(args.model, seed=seed, epochs=epochs)
        started = time.perf_counter()
        trained = train.fit(args.model, x, y, config)
        seconds = time.perf_counter() - started
        views = predict.average_probabilities([trained.predict_proba], x_test, tta=True)
        info = {"recipe": recipe, "epochs_run": config.epochs, "train_seconds": round(seconds, 1),
                "finished": dt.datetime.now().isoformat(timespec="seconds")}
        buffer = io.BytesIO()
        np.savez_compressed(buffer, probabilities=views.astype(np.float32),
                            info=json.dumps(info))
        write_bytes(path, buffer.getvalue(), force=True)  # atomic: a killed run keeps none
        return views, info

    result: dict = {"model": args.model, "confidence": args.confidence, "quick": args.quick,
                    "control": args.control, "started": dt.datetime.now().isoformat(
                        timespec="seconds"), "load_average_before": os.getloadavg()[0],
                    "fits": []}
    splits = {name: makers[name]() for name in args.splits}
    for seed in args.seeds:  # seed-major: a cut-short run still has both splits
        for split, (x, y, x_test, y_test) in splits.items():
            epochs = args.epochs
            if args.quick:
                x, y = x[:QUICK_ROWS[0]], y[:QUICK_ROWS[0]]
                x_test, y_test = x_test[:QUICK_ROWS[1]], y_test[:QUICK_ROWS[1]]
                epochs = 1
            if teacher_file:
                teacher = given_teacher
                if teacher.shape != (len(y_test), 10):
                    sys.exit(f"{args.teacher}: {teacher.shape} probabilities, not the built-in "
                             f"test's ({len(y_test)}, 10)")
                teacher_info = {"train_seconds": None, "epochs_run": train.config_for(
                    args.model, seed=seed, epochs=epochs).epochs}
            else:
                teacher, teacher_info = probabilities("teacher", split, seed, epochs, x, y,
                                                      x_test)
            answers = teacher.argmax(axis=1)
            sure = teacher.max(axis=1) >= args.confidence
            student, student_info = probabilities(
                "student", split, seed, epochs, np.concatenate([x, x_test[sure]]),
                np.concatenate([y, answers[sure].astype(np.uint8)]), x_test)
            read = {"teacher": answers, "student": student.argmax(axis=1),
                    "mix": (teacher + student).argmax(axis=1)}
            row = {"split": split, "seed": seed, "digits": len(y_test),
                   "pseudo_rows": int(sure.sum()),
                   "pseudo_wrong": int((answers[sure] != y_test[sure]).sum()),
                   "teacher_train_seconds": teacher_info["train_seconds"],
                   "student_train_seconds": student_info["train_seconds"],
                   "epochs": teacher_info["epochs_run"], "teacher_file": teacher_file}
            if args.control:
                steps_epochs = round(teacher_info["epochs_run"] * (len(y) + int(sure.sum()))
                                     / len(y))
                control, control_info = probabilities("control", split, seed, steps_epochs,
                                                      x, y, x_test)
                read["control"] = control.argmax(axis=1)
                row |= {"control_epochs": steps_epochs,
                        "control_train_seconds": control_info["train_seconds"]}
            row |= {f"{kind}_errors": int((answer != y_test).sum())
                    for kind, answer in read.items()}
            row |= {f"{first}_vs_{second}": paired(read[first], read[second], y_test)
                    for first, second in PAIRS if first in read and second in read}
            result["fits"].append(row)
            print(f"{split} seed {seed}: teacher {row['teacher_errors']} errors, "
                  f"student {row['student_errors']}"
                  + (f", control {row['control_errors']}" if args.control else "")
                  + f" of {len(y_test)}; {row['pseudo_rows']} pseudo-labels, "
                  f"{row['pseudo_wrong']} wrong", flush=True)
            write_json(out, result, force=True)

    fits = result["fits"]
    # each seed reads the same test digits again: pooled tallies count a digit per fit
    totals: dict = {"digits": sum(f["digits"] for f in fits)}
    for kind in ("teacher", "student", "mix") + (("control",) if args.control else ()):
        totals[f"{kind}_errors"] = sum(f[f"{kind}_errors"] for f in fits)
    for first, second in PAIRS:
        if f"{first}_vs_{second}" in fits[0]:
            right_only = [sum(f[f"{first}_vs_{second}"][f"right_only_{which}"] for f in fits)
                          for which in ("first", "second")]
            totals[f"{first}_vs_{second}"] = {
                f"right_only_{first}": right_only[0], f"right_only_{second}": right_only[1],
                "mcnemar_exact_p": exact_mcnemar_p(*right_only),
                "fits_ahead": sum(f[f"{first}_errors"] < f[f"{second}_errors"] for f in fits)}
    result["totals"] = totals
    result["load_average_after"] = os.getloadavg()[0]
    write_json(out, result, force=True)
    print(json.dumps(totals))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
