"""Confusion-matrix statistics with R caret's definitions (``confusionMatrix``, 6.0-93).

Kaggle users coming from R review models with ``caret::confusionMatrix``; every number here
is computed the way caret computes it, so that a kdigits report and an R session agree to
the last printed digit (checked against ``tests/golden/caret/``, every case).

Pure functions on label arrays: no I/O, no TensorFlow. The binomial test, its exact
interval and the chi-squared tail come from SciPy.

Undefined values (explicit policy, as caret): a ratio whose denominator is 0 is NaN. caret
itself distinguishes two kinds, and so does :class:`ConfusionStats` (``not_available``):

* **NA** — caret's ``sensitivity``/``specificity``/``precision``/``recall`` return ``NA``
  when their denominator is empty (a class absent from the reference, or never
  predicted), and anything computed from an NA is NA;
* **NaN** — 0/0 inside a formula (Pos Pred Value of a class that is never predicted,
  F1 when precision and recall are both 0, McNemar's test with an empty off-diagonal pair).

Both are NaN in the arrays and ``null`` in JSON; only caret's print-out tells them apart
(``NA`` vs ``NaN``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kaggle_digits.constants import BY_CLASS_ROWS
from kaggle_digits.errors import KdigitsError

OVERALL_KEYS = ("accuracy", "kappa", "accuracy_lower", "accuracy_upper",
                "no_information_rate", "accuracy_p_value", "mcnemar_p_value")
BY_CLASS_KEYS = tuple(key for key, _ in BY_CLASS_ROWS)

NAN = float("nan")


@dataclass(frozen=True, eq=False)
class ConfusionStats:
    """Everything caret's ``confusionMatrix(prediction, reference)`` reports.

    ``table`` has rows = Prediction and columns = Reference (caret's orientation).
    ``by_class`` holds one-vs-rest statistics for every class, also for two classes,
    where caret prints only the ``positive`` one (the first level).
    ``not_available`` names the ``(class, statistic)`` cells caret reports as NA rather
    than NaN (see the module docstring); both are NaN here.
    """

    classes: tuple[str, ...]
    table: np.ndarray
    overall: dict[str, float]
    by_class: dict[str, dict[str, float]]
    positive: str | None = None
    not_available: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @property
    def accuracy(self) -> float:
        return self.overall["accuracy"]

    @property
    def kappa(self) -> float:
        return self.overall["kappa"]

    @property
    def n(self) -> int:
        return int(self.table.sum())

    def to_json(self) -> dict[str, Any]:
        """The layout of ``tests/golden/caret/*.json`` (NaN → ``None``)."""
        out: dict[str, Any] = {
            "classes": list(self.classes),
            "table": self.table.tolist(),
            "overall": {key: _json_float(self.overall[key]) for key in OVERALL_KEYS},
        }
        if self.positive is not None:
            out["positive"] = self.positive
        out["by_class"] = {
            name: {key: _json_float(values[key]) for key in BY_CLASS_KEYS}
            for name, values in self.by_class.items()
        }
        return out


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def confusion_table(prediction: np.ndarray, reference: np.ndarray,
                    classes: Sequence[Any]) -> tuple[tuple[str, ...], np.ndarray]:
    """(class names, K×K int64 table, rows = Prediction, columns = Reference).

    Labels are matched to ``classes`` by their text, so ``uint8`` labels and the levels
    ``"0"…"9"`` (or ``0…9``) meet; a label outside the levels is a user error.
    """
    names = tuple(str(c) for c in classes)
    if len(set(names)) != len(names):
        raise KdigitsError(f"class levels repeat: {', '.join(names)}")
    if len(names) < 2:
        raise KdigitsError(f"need at least two class levels, got {len(names)}")
    pred = np.asarray(prediction).ravel()
    ref = np.asarray(reference).ravel()
    if pred.shape != ref.shape:
        raise KdigitsError(f"{pred.size} predictions but {ref.size} reference labels")
    if pred.size == 0:
        raise KdigitsError("no labels to compare")
    index = {name: i for i, name in enumerate(names)}
    codes = []
    for what, values in (("prediction", pred), ("reference", ref)):
        levels, inverse = np.unique(values, return_inverse=True)
        outside = [str(v) for v in levels if str(v) not in index]
        if outside:
            raise KdigitsError(f"{what} has labels outside the levels {_levels_text(names)}: "
                               f"{', '.join(outside[:5])}")
        codes.append(np.array([index[str(v)] for v in levels], dtype=np.int64)[inverse])
    k = len(names)
    table = np.bincount(codes[0] * k + codes[1], minlength=k * k).reshape(k, k)
    return names, table.astype(np.int64)


def _levels_text(names: Sequence[str]) -> str:
    return ",".join(names) if len(names) <= 12 else ",".join(names[:12]) + ",…"


def confusion_stats(prediction: np.ndarray, reference: np.ndarray,
                    classes: Sequence[Any]) -> ConfusionStats:
    """caret's ``confusionMatrix(factor(prediction, classes), factor(reference, classes))``.

    ``classes`` gives the levels in order (ints or strings); with two levels the first is
    caret's positive class.
    """
    names, table = confusion_table(prediction, reference, classes)
    return stats_from_table(table, names)


def stats_from_table(table: np.ndarray, classes: Sequence[Any]) -> ConfusionStats:
    """The statistics of a ready-made confusion table (rows = Prediction).

    Overall (n = table total, k = its diagonal):

    * Accuracy = k / n; 95% CI = Clopper–Pearson (R's ``binom.test(k, n)$conf.int``);
    * No Information Rate = max(column sums) / n;
      P-Value [Acc > NIR] = ``binom.test(k, n, NIR, alternative = "greater")``;
    * Kappa (Cohen, unweighted; e1071 ``classAgreement``) = (p0 − pc) / (1 − pc), with
      p0 = k / n and pc = Σ (rowsum/n)(colsum/n);
    * McNemar (R's ``mcnemar.test``): Bowker's symmetry statistic
      Σ_{i<j} (x_ij − x_ji)² / (x_ij + x_ji) on r(r−1)/2 degrees of freedom, with
      continuity correction (|x_ij − x_ji| − 1)² for a 2×2 table; NaN when a pair is empty.

    By class c (one-vs-rest, TP = x_cc):
    sensitivity = recall = TP / colsum; specificity = TN / (n − colsum);
    prevalence = colsum / n;
    PPV = sens·prev / (sens·prev + (1 − spec)(1 − prev));
    NPV = spec(1 − prev) / ((1 − sens)prev + spec(1 − prev));
    precision = TP / rowsum; F1 = 2·precision·recall / (precision + recall);
    detection rate = TP / n; detection prevalence = rowsum / n;
    balanced accuracy = (sens + spec) / 2.
    """
    from scipy import stats as sps

    names = tuple(str(c) for c in classes)
    x = np.asarray(table, dtype=np.int64)
    if x.ndim != 2 or x.shape != (len(names), len(names)) or len(names) < 2:
        raise KdigitsError(f"confusion table must be K×K for K = {len(names)} ≥ 2 classes")
    n = int(x.sum())
    if n == 0:
        raise KdigitsError("confusion table is empty")
    correct = int(np.trace(x))
    row_sums = x.sum(axis=1)
    col_sums = x.sum(axis=0)

    accuracy = correct / n
    interval = sps.binomtest(correct, n).proportion_ci(confidence_level=0.95, method="exact")
    no_information_rate = float(np.max(col_sums / n))
    accuracy_p_value = float(sps.binomtest(correct, n, no_information_rate,
                                           alternative="greater").pvalue)
    pc = float(np.sum((row_sums / n) * (col_sums / n)))
    kappa = _div(accuracy - pc, 1 - pc)
    overall = {
        "accuracy": accuracy,
        "kappa": kappa,
        "accuracy_lower": float(interval.low),
        "accuracy_upper": float(interval.high),
        "no_information_rate": no_information_rate,
        "accuracy_p_value": accuracy_p_value,
        "mcnemar_p_value": mcnemar_p_value(x),
    }

    by_class: dict[str, dict[str, float]] = {}
    missing: set[tuple[str, str]] = set()
    for c, name in enumerate(names):
        values, na = _one_vs_rest(x, c, n, int(row_sums[c]), int(col_sums[c]))
        by_class[name] = values
        missing.update((name, key) for key in na)
    positive = names[0] if len(names) == 2 else None
    frozen_table = x.copy()
    frozen_table.setflags(write=False)
    return ConfusionStats(names, frozen_table, overall, by_class, positive, frozenset(missing))


def _div(numerator: float, denominator: float) -> float:
    """IEEE division as R does it: x/0 is ±Inf, 0/0 is NaN (Python would raise)."""
    if denominator == 0:
        if numerator == 0 or math.isnan(numerator):
            return NAN
        return math.copysign(math.inf, numerator)
    return numerator / denominator


def _one_vs_rest(x: np.ndarray, c: int, n: int, row_sum: int,
                 col_sum: int) -> tuple[dict[str, float], set[str]]:
    """One class's by-class statistics and the names of those caret reports as NA."""
    tp = int(x[c, c])
    tn = n - row_sum - col_sum + tp
    na: set[str] = set()

    def ratio(key: str, numerator: int, denominator: int) -> float:
        if denominator > 0:
            return numerator / denominator
        na.add(key)
        return NAN

    sens = ratio("sensitivity", tp, col_sum)
    spec = ratio("specificity", tn, n - col_sum)
    precision = ratio("precision", tp, row_sum)
    recall = ratio("recall", tp, col_sum)
    prev = col_sum / n
    ppv = _div(sens * prev, sens * prev + (1 - spec) * (1 - prev))
    npv = _div(spec * (1 - prev), (1 - sens) * prev + spec * (1 - prev))
    f1 = _div(2 * precision * recall, precision + recall)
    balanced = (sens + spec) / 2
    if na & {"sensitivity", "specificity"}:
        na.update(("pos_pred_value", "neg_pred_value", "balanced_accuracy"))
    if na & {"precision", "recall"}:
        na.add("f1")
    values = {
        "sensitivity": sens,
        "specificity": spec,
        "pos_pred_value": ppv,
        "neg_pred_value": npv,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "prevalence": prev,
        "detection_rate": tp / n,
        "detection_prevalence": row_sum / n,
        "balanced_accuracy": balanced,
    }
    return values, na


def mcnemar_p_value(table: np.ndarray) -> float:
    """R's ``mcnemar.test(table)$p.value`` (Bowker's test beyond 2×2), NaN where undefined.

    A pair of empty off-diagonal cells gives 0/0 in R's sum, hence NA — common for digit
    classifiers, whose rare confusions leave many pairs empty.
    """
    from scipy import stats as sps

    x = np.asarray(table, dtype=np.float64)
    r = x.shape[0]
    diff = x - x.T
    corrected = r == 2 and bool(np.any(diff != 0))  # Yates' continuity correction
    y = np.abs(diff) - 1 if corrected else diff
    s = x + x.T
    upper = np.triu_indices(r, k=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = float(np.sum(y[upper] ** 2 / s[upper]))
    if math.isnan(statistic):
        return NAN
    return float(sps.chi2.sf(statistic, r * (r - 1) // 2))


@dataclass(frozen=True)
class PairedComparison:
    """Two models read on the same digits, judged by the digits only one reads right.

    The digits both read right (or both wrong) say nothing about which model is better;
    McNemar's exact test asks whether the others split more unevenly than coin flips,
    which is the question "is the higher accuracy more than chance on these digits?".
    """

    digits: int
    right_only_first: int
    right_only_second: int
    p_value: float  # two-sided exact binomial test of the split at 1/2; 1 when none differ

    @property
    def discordant(self) -> int:
        return self.right_only_first + self.right_only_second


def paired_exact_mcnemar(first_correct: np.ndarray, second_correct: np.ndarray
                         ) -> PairedComparison:
    """R's ``binom.test(b, b + c)$p.value`` for the digits right only in the first (b) and
    only in the second (c): McNemar's exact test, which, unlike the chi-squared version,
    holds for the few dozen discordant digits two strong digit models leave."""
    first, second = np.asarray(first_correct, bool), np.asarray(second_correct, bool)
    if first.shape != second.shape or first.ndim != 1:
        raise KdigitsError(f"paired results must be two equal 1-D arrays, got {first.shape} "
                           f"and {second.shape}")
    only_first = int(np.sum(first & ~second))
    only_second = int(np.sum(second & ~first))
    return PairedComparison(int(first.size), only_first, only_second,
                            exact_mcnemar_p(only_first, only_second))


def exact_mcnemar_p(right_only_first: int, right_only_second: int) -> float:
    """McNemar's exact p-value from the two discordant counts alone, for tallies pooled
    over several paired comparisons; 1 when there are none (R's binom.test refuses n = 0)."""
    from scipy import stats as sps

    discordant = right_only_first + right_only_second
    if not discordant:
        return 1.0
    return float(sps.binomtest(right_only_first, discordant).pvalue)
