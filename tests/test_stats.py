"""caret's confusion statistics: every golden case from R, cross-checks and invariants."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import GOLDEN
from hypothesis import given, settings
from hypothesis import strategies as st

from kaggle_digits.errors import KdigitsError
from kaggle_digits.stats import (
    BY_CLASS_KEYS,
    OVERALL_KEYS,
    confusion_stats,
    mcnemar_p_value,
    paired_exact_mcnemar,
)

CASES = sorted(p.stem for p in GOLDEN.glob("*.json")) or ["golden-data-missing"]


def load_case(name: str) -> dict:
    path = GOLDEN / f"{name}.json"
    if not path.exists():
        pytest.fail(f"caret golden data missing: {path}")
    return json.loads(path.read_text())


def case_stats(case: dict):
    classes = np.array(case["classes"])
    return confusion_stats(classes[case["prediction"]], classes[case["reference"]],
                           case["classes"])


def agrees(ours: float, caret: float | None) -> bool:
    if caret is None:
        return math.isnan(ours)
    return abs(ours - caret) <= 1e-9 or abs(ours - caret) <= 1e-9 * abs(caret)


def test_golden_set_is_complete():
    assert GOLDEN.is_dir(), f"{GOLDEN} is missing"
    assert len(CASES) == 41, CASES  # 40 cases + seed-example


@pytest.mark.parametrize("name", CASES)
def test_matches_caret(name: str):
    case = load_case(name)
    ours = case_stats(case)
    assert ours.table.tolist() == case["table"]
    assert ours.classes == tuple(case["classes"])
    wrong = [(key, ours.overall[key], want) for key, want in case["overall"].items()
             if not agrees(ours.overall[key], want)]
    for cls, values in case["by_class"].items():
        wrong += [(f"{cls}.{key}", ours.by_class[cls][key], want)
                  for key, want in values.items() if not agrees(ours.by_class[cls][key], want)]
    assert not wrong, wrong
    if "positive" in case:  # two classes: caret's block is the positive class's
        assert ours.positive == case["positive"] == case["classes"][0]
    else:
        assert ours.positive is None


@pytest.mark.parametrize("name", CASES)
def test_json_layout_is_the_golden_layout(name: str):
    case = load_case(name)
    out = case_stats(case).to_json()
    expected_keys = {"classes", "table", "overall", "by_class"} | (
        {"positive"} if "positive" in case else set())
    assert set(out) == expected_keys
    assert list(out["overall"]) == list(OVERALL_KEYS)
    assert set(out["by_class"]) == set(case["classes"])
    assert all(list(v) == list(BY_CLASS_KEYS) for v in out["by_class"].values())
    text = json.dumps(out, allow_nan=False)  # NaN must have become null
    nulls = [k for k, v in case["overall"].items() if v is None]
    assert all(out["overall"][k] is None for k in nulls)
    assert json.loads(text)["table"] == case["table"]


def test_na_and_nan_are_told_apart():
    """caret prints NA for an empty denominator, NaN for 0/0 inside a formula."""
    reference = np.array([0, 0, 1, 1, 2, 2])
    prediction = np.array([0, 1, 1, 1, 0, 0])  # 2 never predicted; 3 never present
    s = confusion_stats(prediction, reference, [0, 1, 2, 3])
    assert math.isnan(s.by_class["2"]["pos_pred_value"])
    assert ("2", "pos_pred_value") not in s.not_available  # 0/0 → NaN
    assert ("2", "precision") in s.not_available  # never predicted → NA
    assert ("3", "sensitivity") in s.not_available  # never in the reference → NA
    assert ("3", "balanced_accuracy") in s.not_available
    assert s.by_class["3"]["specificity"] == 1.0
    assert math.isnan(s.overall["mcnemar_p_value"])  # empty off-diagonal pairs


def test_agrees_with_scikit_learn_on_real_labels(train_sample):
    """Independent check on real digits: Cohen's kappa and per-class precision/recall."""
    from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

    _, labels = train_sample
    rng = np.random.default_rng(3)
    prediction = labels.copy()
    noisy = rng.random(labels.size) < 0.2
    prediction[noisy] = rng.integers(0, 10, noisy.sum())
    s = confusion_stats(prediction, labels, range(10))
    assert s.accuracy == pytest.approx(np.mean(prediction == labels), abs=1e-15)
    assert s.kappa == pytest.approx(cohen_kappa_score(labels, prediction), abs=1e-12)
    precision, recall, f1, _ = precision_recall_fscore_support(labels, prediction,
                                                               labels=range(10))
    for c in range(10):
        assert s.by_class[str(c)]["precision"] == pytest.approx(precision[c], abs=1e-12)
        assert s.by_class[str(c)]["recall"] == pytest.approx(recall[c], abs=1e-12)
        assert s.by_class[str(c)]["f1"] == pytest.approx(f1[c], abs=1e-12)
        # caret's prevalence-based PPV equals plain precision up to rounding
        assert s.by_class[str(c)]["pos_pred_value"] == pytest.approx(precision[c], abs=1e-12)
    assert 0 < s.overall["accuracy_lower"] < s.accuracy < s.overall["accuracy_upper"] < 1


def test_mcnemar_two_by_two_uses_continuity_correction():
    from scipy.stats import chi2

    table = np.array([[78, 26], [41, 55]])
    expected = chi2.sf((abs(26 - 41) - 1) ** 2 / (26 + 41), 1)
    assert mcnemar_p_value(table) == pytest.approx(expected, rel=1e-12)
    assert mcnemar_p_value(np.array([[5, 3], [3, 5]])) == pytest.approx(1.0)


def test_paired_exact_mcnemar_is_the_binomial_test_of_the_digits_one_model_reads():
    """R's binom.test(b, b + c): 1 of 10 discordant digits gives p = 2 · 11/1024 exactly,
    3 of 12 gives 2 · 299/4096; the digits both models read alike do not count."""
    def reads(only_first: int, only_second: int, both: int, neither: int):
        first = [True] * only_first + [False] * only_second + [True] * both + [False] * neither
        second = [False] * only_first + [True] * only_second + [True] * both + [False] * neither
        return np.array(first), np.array(second)

    test = paired_exact_mcnemar(*reads(1, 9, 500, 3))
    assert (test.digits, test.right_only_first, test.right_only_second) == (513, 1, 9)
    assert test.p_value == pytest.approx(22 / 1024, rel=1e-12)
    assert paired_exact_mcnemar(*reads(9, 3, 0, 0)).p_value == pytest.approx(598 / 4096,
                                                                              rel=1e-12)
    assert paired_exact_mcnemar(*reads(4, 4, 10, 1)).p_value == pytest.approx(1.0)
    alike = paired_exact_mcnemar(*reads(0, 0, 20, 2))
    assert (alike.discordant, alike.p_value) == (0, 1.0)
    with pytest.raises(KdigitsError, match="two equal 1-D arrays"):
        paired_exact_mcnemar(np.ones(3, bool), np.ones(4, bool))


def test_accuracy_interval_and_p_value_are_exact_binomial():
    """caret's binom.test: the exact Clopper–Pearson interval and the exact one-sided tail.
    With 17 of 20 right and NIR 0.6, both normal shortcuts are visibly off, so an
    approximation cannot pass."""
    from fractions import Fraction

    from scipy.stats import binom, binomtest, norm

    reference = np.array([0] * 12 + [1] * 5 + [2] * 3)  # NIR = 12/20
    prediction = reference.copy()
    prediction[[0, 12, 17]] = [1, 2, 0]  # 17 of 20 right
    s = confusion_stats(prediction, reference, [0, 1, 2])
    k, n = 17, 20
    assert s.accuracy == k / n and s.overall["no_information_rate"] == 0.6
    lower, upper = s.overall["accuracy_lower"], s.overall["accuracy_upper"]

    exact = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert (lower, upper) == pytest.approx((exact.low, exact.high), rel=1e-12)
    # Clopper–Pearson by its definition: each bound leaves 2.5% beyond the observed count
    assert binom.sf(k - 1, n, lower) == pytest.approx(0.025, rel=1e-9)
    assert binom.cdf(k, n, upper) == pytest.approx(0.025, rel=1e-9)

    # P-Value [Acc > NIR] = P(X ≥ 17), X ~ Binomial(20, 0.6), summed in exact fractions
    p = Fraction(12, 20)
    tail = float(sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1)))
    assert s.overall["accuracy_p_value"] == pytest.approx(tail, rel=1e-12)

    # what the normal approximations would have given instead
    half = 1.96 * math.sqrt(0.85 * 0.15 / n)
    assert abs((0.85 - half) - lower) > 0.05 and 0.85 + half > 1 > upper
    sd = math.sqrt(n * 0.6 * 0.4)
    for z in ((k - 12) / sd, (k - 0.5 - 12) / sd):  # without and with continuity correction
        assert abs(norm.sf(z) / tail - 1) > 0.2


def test_bad_input_is_a_user_error():
    with pytest.raises(KdigitsError, match="outside the levels"):
        confusion_stats(np.array([0, 1, 7]), np.array([0, 1, 1]), [0, 1])
    with pytest.raises(KdigitsError, match="at least two"):
        confusion_stats(np.array([1, 1]), np.array([1, 1]), [1])
    with pytest.raises(KdigitsError, match="predictions"):
        confusion_stats(np.array([0, 1]), np.array([0, 1, 1]), [0, 1])


labels_strategy = st.integers(min_value=2, max_value=6).flatmap(
    lambda k: st.tuples(st.just(k), st.lists(st.tuples(st.integers(0, k - 1),
                                                       st.integers(0, k - 1)),
                                             min_size=1, max_size=60)))


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-14)


@settings(max_examples=40, deadline=None)
@given(labels_strategy, st.randoms(use_true_random=False))
def test_relabelling_classes_permutes_by_class_only(data, rnd):
    k, pairs = data
    prediction, reference = (np.array(v) for v in zip(*pairs, strict=True))
    order = list(range(k))
    rnd.shuffle(order)
    base = confusion_stats(prediction, reference, list(range(k)))
    shuffled = confusion_stats(prediction, reference, order)
    for key in OVERALL_KEYS:
        assert same(base.overall[key], shuffled.overall[key]), key
    for cls in base.classes:
        for key in BY_CLASS_KEYS:
            assert same(base.by_class[cls][key], shuffled.by_class[cls][key]), (cls, key)
    positions = [order.index(c) for c in range(k)]
    assert (shuffled.table[np.ix_(positions, positions)] == base.table).all()


@settings(max_examples=40, deadline=None)
@given(labels_strategy)
def test_swapping_prediction_and_reference_transposes(data):
    k, pairs = data
    prediction, reference = (np.array(v) for v in zip(*pairs, strict=True))
    forward = confusion_stats(prediction, reference, range(k))
    backward = confusion_stats(reference, prediction, range(k))
    assert (forward.table == backward.table.T).all()
    assert same(forward.accuracy, backward.accuracy)
    assert same(forward.kappa, backward.kappa)  # Cohen's kappa is symmetric
    assert same(forward.overall["mcnemar_p_value"], backward.overall["mcnemar_p_value"])


@settings(max_examples=40, deadline=None)
@given(labels_strategy)
def test_perfect_prediction(data):
    k, pairs = data
    reference = np.array([r for _, r in pairs])
    s = confusion_stats(reference, reference, range(k))
    assert s.accuracy == 1.0
    assert s.overall["accuracy_upper"] == 1.0
    if len(np.unique(reference)) > 1:
        assert s.kappa == pytest.approx(1.0)
    for cls in s.classes:
        if int(cls) in reference:
            assert s.by_class[cls]["sensitivity"] == 1.0
            assert s.by_class[cls]["precision"] == 1.0
            if len(np.unique(reference)) > 1:  # else specificity is NA, and so is PPV
                assert s.by_class[cls]["pos_pred_value"] == 1.0
