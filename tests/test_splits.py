"""Splits on real labels: roles disjoint and complete, classes balanced, seeds reproducible."""

from __future__ import annotations

import re

import numpy as np
import pytest

from kaggle_digits.errors import KdigitsError
from kaggle_digits.splits import HOLDOUT_FOLD, SplitConfig, make_split


@pytest.fixture(scope="module")
def labels(train_sample: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return train_sample[1]


def test_holdout_and_folds_are_disjoint_and_cover_every_row(labels: np.ndarray) -> None:
    split = make_split(labels, SplitConfig(folds=5, holdout=0.1, seed=7))
    tests = [fold.test for fold in split.folds]
    everything = np.concatenate([split.holdout, *tests])
    assert np.array_equal(np.sort(everything), np.arange(labels.size))  # each row once
    assert split.holdout.size == 300
    for fold in split.folds:
        assert np.intersect1d(fold.train, fold.test).size == 0
        assert np.intersect1d(fold.train, split.holdout).size == 0  # never trained on
        assert np.array_equal(np.union1d(fold.train, fold.test), split.cv_rows)


def test_class_proportions_per_fold_are_within_one_row_of_exact(labels: np.ndarray) -> None:
    split = make_split(labels, SplitConfig(folds=5, holdout=0.1, seed=3))
    cv_counts = np.bincount(labels[split.cv_rows], minlength=10)
    for fold in split.folds:
        expected = cv_counts * fold.test.size / split.cv_rows.size
        got = np.bincount(labels[fold.test], minlength=10)
        assert np.all(np.abs(got - expected) <= 1), (fold.number, got, expected)
    holdout_expected = np.bincount(labels, minlength=10) * 0.1
    assert np.all(np.abs(np.bincount(labels[split.holdout], minlength=10)
                         - holdout_expected) <= 1)


def test_same_seed_same_folds_other_seed_other_folds(labels: np.ndarray) -> None:
    config = SplitConfig(folds=4, holdout=0.15, percent=60, seed=11)
    a = make_split(labels, config).fold_column(labels.size)
    b = make_split(labels, config).fold_column(labels.size)
    c = make_split(labels, SplitConfig(folds=4, holdout=0.15, percent=60, seed=12)
                   ).fold_column(labels.size)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(np.unique(a)) == {HOLDOUT_FOLD, 0, 1, 2, 3, 4}  # 0 = left out by --percent


def test_percent_is_a_stratified_subsample(labels: np.ndarray) -> None:
    split = make_split(labels, SplitConfig(folds=3, holdout=0.1, percent=20, seed=5))
    assert split.rows.size == 600
    expected = np.bincount(labels, minlength=10) * 0.2
    assert np.all(np.abs(np.bincount(labels[split.rows], minlength=10) - expected) <= 1)
    assert np.isin(split.holdout, split.rows).all()


def test_one_fold_is_a_single_stratified_train_test_split(labels: np.ndarray) -> None:
    split = make_split(labels, SplitConfig(folds=1, holdout=0, test_size=0.25, seed=1))
    (fold,) = split.folds
    assert split.holdout.size == 0
    assert fold.test.size == 750 and fold.train.size == 2250
    assert np.intersect1d(fold.train, fold.test).size == 0
    column = split.fold_column(labels.size)
    assert (column == 1).sum() == 750 and (column == 0).sum() == 2250


@pytest.mark.parametrize(("options", "message"), [
    ({"folds": 0}, "--folds"), ({"holdout": 1.0}, "--holdout"),
    ({"percent": 0}, "--percent"), ({"test_size": 1.5}, "--test-size"),
])
def test_bad_settings_are_one_line_errors(options: dict, message: str) -> None:
    with pytest.raises(KdigitsError, match=message):
        SplitConfig(**options)


def test_too_many_folds_for_a_tiny_sample_is_explained(labels: np.ndarray) -> None:
    with pytest.raises(KdigitsError, match=r"--folds 10 needs 10 or more rows of each digit"
                                           r".*; the smallest --percent that works with 10 "
                                           r"folds and no holdout is (\S+)$") as error:
        make_split(labels, SplitConfig(folds=10, holdout=0, percent=1, seed=0))
    smallest = float(error.value.args[0].rsplit(" ", 1)[1])
    assert len(make_split(labels, SplitConfig(folds=10, holdout=0, percent=smallest,
                                              seed=0)).folds) == 10


SKLEARN_WORDS = ("test_size", "train_size", "n_samples", "should be greater", "n_splits")


@pytest.mark.parametrize(("options", "said", "works"), [
    # what the user asked, in kdigits' words; then the nearest setting, which must work
    ({"percent": 0.1}, "--percent 0.1 keeps 3 of 3,000 rows, fewer than one of each of the "
                       "10 digits; the smallest --percent that works with 5 folds and "
                       "--holdout 0.1 is ", "percent"),
    ({"holdout": 0.001}, "--holdout 0.001 holds out 3 of 3,000 rows, fewer than one of each "
                         "of the 10 digits; use --holdout ", "holdout"),
    ({"holdout": 0.999, "folds": 2}, "--holdout 0.999 leaves 3 of 3,000 rows for "
                                     "cross-validation, fewer than one of each of the 10 "
                                     "digits; use --holdout ", "holdout"),
    ({"folds": 1, "test_size": 0.001, "holdout": 0}, "--test-size 0.001 tests on 3 of 3,000 "
                                                     "rows, fewer than one of each of the 10 "
                                                     "digits; use --test-size ", "test_size"),
    ({"folds": 400}, "--folds 400 needs 400 or more rows of each digit (one for each fold), "
                     "but digit 4 has 239 of the 2,700 cross-validation rows; use --folds ",
     "folds"),
])
def test_impossible_splits_say_why_and_what_works(labels: np.ndarray, options: dict,
                                                  said: str, works: str) -> None:
    with pytest.raises(KdigitsError) as error:
        make_split(labels, SplitConfig(**options))
    message = str(error.value)
    assert message.startswith(said), message
    assert not any(word in message for word in SKLEARN_WORDS), message
    value = re.search(r"(?:is|--[a-z-]+) ([0-9.]+)(?: or (?:more|less|fewer))?(?:, or 0 "
                      r"for none)?$", message)
    assert value, message
    nearest = {**options, works: type(getattr(SplitConfig(), works))(value[1])}
    assert make_split(labels, SplitConfig(**nearest)).folds  # the advice works
