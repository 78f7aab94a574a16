"""kaggle_digits.submit: TTA shifts, probability averaging, submission bundles, ensembles,
the class-distribution table and the upload guard rails — on real digits, no training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_digits import constants, fileio, kaggle_api, predict
from kaggle_digits import ensemble as ens
from kaggle_digits import submit as sub
from kaggle_digits.errors import KdigitsError
from kaggle_digits.submission_file import read_label_file, submission_problems

# ----------------------------------------------------------------------------- helpers


def ink_centroid(pixels: np.ndarray) -> np.ndarray:
    """(row, col) centre of ink per image."""
    images = pixels.reshape(-1, 28, 28).astype(np.float64)
    mass = images.sum(axis=(1, 2))
    rows = (images.sum(axis=2) * np.arange(28)).sum(axis=1) / mass
    cols = (images.sum(axis=1) * np.arange(28)).sum(axis=1) / mass
    return np.stack([rows, cols], axis=1)


def fake_probabilities(labels: np.ndarray, confidence: float = 0.9,
                       seed: int = 0) -> np.ndarray:
    """Probabilities whose argmax is ``labels``: the rest of the mass spread at random."""
    rng = np.random.default_rng(seed)
    rest = rng.dirichlet(np.ones(9), size=len(labels)) * (1 - confidence)
    probs = np.zeros((len(labels), 10), dtype=np.float32)
    for i, label in enumerate(labels):
        probs[i, label] = confidence
        probs[i, np.arange(10) != label] = rest[i]
    return probs


def write_plain(path, labels) -> None:
    pd.DataFrame({"ImageId": np.arange(1, len(labels) + 1), "Label": labels}).to_csv(
        path, index=False)


@pytest.fixture
def digits(train_sample):
    pixels, labels = train_sample
    return pixels[:500], labels[:500].astype(np.int64)


# ----------------------------------------------------------------------------- TTA


def test_shift_moves_ink_by_one_pixel_each_way(digits):
    images = digits[0].reshape(-1, 28, 28)
    # Digits with an empty 1-pixel frame (nearly all of MNIST's) lose no ink to a
    # 1-pixel shift, so their centre of mass moves by exactly one pixel.
    framed = ~(images[:, [0, -1], :].any(axis=(1, 2)) | images[:, :, [0, -1]].any(axis=(1, 2)))
    assert framed.mean() > 0.9
    pixels = digits[0][framed]
    before = ink_centroid(pixels)
    for dy, dx in predict.TTA_SHIFTS[1:]:
        shifted = predict.shift_images(pixels, dy, dx)
        assert shifted.dtype == np.uint8 and shifted.shape == pixels.shape
        assert (shifted.sum(axis=1, dtype=np.int64) == pixels.sum(axis=1, dtype=np.int64)).all()
        np.testing.assert_allclose(ink_centroid(shifted) - before,
                                   np.broadcast_to([dy, dx], before.shape), atol=1e-9)
        back = predict.shift_images(shifted, -dy, -dx)
        np.testing.assert_array_equal(back, pixels)


def test_shift_drops_ink_at_the_edge_instead_of_wrapping():
    image = np.zeros((1, 784), dtype=np.uint8)
    image[0, 27] = 255  # top-right corner
    assert predict.shift_images(image, 0, 1).sum() == 0
    moved = predict.shift_images(image, 1, 0).reshape(28, 28)
    assert moved[1, 27] == 255 and moved.sum() == 255


def test_average_probabilities_over_models_and_views(digits):
    pixels, labels = digits
    first = fake_probabilities(labels, seed=1)
    second = fake_probabilities(labels, seed=2)
    lookup = {pixels[i].tobytes(): i for i in range(len(pixels))}

    def model(table):
        return lambda chunk: table[[lookup[row.tobytes()] for row in chunk]]

    steps = []
    mean = predict.average_probabilities([model(first), model(second)], pixels,
                                     advance=steps.append)
    np.testing.assert_allclose(mean, (first + second) / 2, rtol=1e-6)
    assert mean.dtype == np.float32
    assert sum(steps) == len(pixels)  # a bar counts images, not images × models


def test_tta_averages_the_five_views(digits, monkeypatch):
    pixels, _ = digits
    monkeypatch.setattr(predict, "PREDICT_ROWS", 128)  # several chunks per view

    def column_of_ink(chunk):
        """A 'model' that only sees where the ink is: class = mean ink column // 3."""
        col = ink_centroid(chunk)[:, 1]
        return np.eye(10, dtype=np.float32)[np.clip(col // 3, 0, 9).astype(int)]

    steps = []
    plain = predict.average_probabilities([column_of_ink], pixels)
    tta = predict.average_probabilities([column_of_ink], pixels, tta=True, advance=steps.append)
    expected = np.mean([column_of_ink(predict.shift_images(pixels, dy, dx))
                        for dy, dx in predict.TTA_SHIFTS], axis=0)
    np.testing.assert_allclose(tta, expected, rtol=1e-6)
    assert not np.allclose(plain, tta)  # the shifted views really were looked at
    assert sum(steps) == len(pixels)  # images, each scored in all five views
    assert steps[:-1] == [128] * (len(steps) - 1)  # one advance per chunk of images
    np.testing.assert_allclose(tta.sum(axis=1), 1, rtol=1e-6)


def test_no_models_is_an_error(digits):
    with pytest.raises(KdigitsError, match=r"^no models to predict with$"):
        predict.average_probabilities([], digits[0])


# ----------------------------------------------------------------------------- bundles


def test_bundle_is_kaggle_format_with_side_files(tmp_path, digits):
    _, labels = digits
    probs = fake_probabilities(labels)
    out = tmp_path / "sub" / "submission.csv"
    path = sub.write_bundle(out, probs, {"model": "test"})
    assert path == out
    lines = out.read_text().splitlines()
    assert lines[0] == "ImageId,Label"
    assert len(lines) == len(labels) + 1
    frame = pd.read_csv(out)
    np.testing.assert_array_equal(frame["ImageId"], np.arange(1, len(labels) + 1))
    np.testing.assert_array_equal(frame["Label"], labels)
    assert submission_problems(out, len(labels)) == []
    saved = np.load(tmp_path / "sub" / "submission.probs.npy")
    assert saved.dtype == np.float32 and saved.shape == (len(labels), 10)
    np.testing.assert_array_equal(saved, probs)
    assert json.loads((tmp_path / "sub" / "submission.json").read_text()) == {"model": "test"}


def test_bundle_refuses_existing_files_without_force(tmp_path, digits):
    _, labels = digits
    out = tmp_path / "submission.csv"
    sub.write_bundle(out, fake_probabilities(labels), {"n": 1})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    other = fake_probabilities((labels + 1) % 10)
    with pytest.raises(KdigitsError, match="already exists"):
        sub.write_bundle(out, other, {"n": 2})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    # only a side file left over from an earlier run still blocks, before any work is done
    (tmp_path / "submission.csv").unlink()
    with pytest.raises(KdigitsError, match=r"submission\.probs\.npy already exists"):
        sub.refuse_bundle(out, force=False)
    sub.write_bundle(out, other, {"n": 2}, force=True)
    assert (pd.read_csv(out)["Label"] == (labels + 1) % 10).all()


@pytest.mark.parametrize("fail_on", [1, 2, 3])
def test_interrupted_write_leaves_no_partial_file(tmp_path, digits, monkeypatch, fail_on):
    """Ctrl-C while publishing the 1st, 2nd or 3rd file: nothing new is left behind."""
    _, labels = digits
    real_publish = fileio._publish
    calls = []

    def publish(tmp, target, force):
        calls.append(target)
        if len(calls) == fail_on:
            assert tmp.exists() and tmp.stat().st_size > 0  # interrupted mid-write
            raise KeyboardInterrupt("Ctrl-C while publishing")
        real_publish(tmp, target, force)

    monkeypatch.setattr(fileio, "_publish", publish)
    with pytest.raises(KeyboardInterrupt, match=r"^Ctrl-C while publishing$"):
        sub.write_bundle(tmp_path / "submission.csv", fake_probabilities(labels), {})
    assert len(calls) == fail_on
    assert list(tmp_path.iterdir()) == []


def test_bundle_rejects_a_bad_name_and_bad_probabilities(tmp_path, digits):
    _, labels = digits
    with pytest.raises(KdigitsError, match=r"\.csv"):
        sub.write_bundle(tmp_path / "submission.txt", fake_probabilities(labels), {})
    with pytest.raises(KdigitsError, match="N×10"):
        sub.write_bundle(tmp_path / "submission.csv", np.zeros((5, 9)), {})
    assert list(tmp_path.iterdir()) == []


def test_default_output(tmp_path):
    from datetime import datetime

    path = sub.default_output("cnn-fast", now=datetime(2024, 5, 6, 7, 8, 9))
    assert str(path) == "submissions/submission-cnn-fast-20240506-070809.csv"


def test_default_solution_only_when_it_belongs_to_the_test_file(tmp_path, sample_files):
    from kaggle_digits.data import file_sha256

    test = sample_files["test"]
    assert sub.default_solution(test, file_sha256(test)) == sample_files["solution"]
    (tmp_path / "test.csv").write_bytes(test.read_bytes())
    assert sub.default_solution(tmp_path / "test.csv", file_sha256(test)) is None


def test_builtin_solution_is_not_used_for_another_test_file(tmp_path, sample_files):
    """Kaggle's test.csv dropped beside the built-in solution: same size, wrong answers."""
    from kaggle_digits.builtin import BUILTIN_CSV_SHA256
    from kaggle_digits.data import file_sha256

    builtin = Path(__file__).resolve().parents[1] / "data" / "solution.csv"
    if not (builtin.is_file() and file_sha256(builtin) == BUILTIN_CSV_SHA256["solution.csv"]):
        pytest.skip("data/solution.csv is not the built-in one (`make data` writes it when "
                    "data/ holds no files of the user's own)")
    test = sample_files["test"]
    (tmp_path / "test.csv").write_bytes(test.read_bytes())
    (tmp_path / "solution.csv").write_bytes(builtin.read_bytes())
    assert sub.default_solution(tmp_path / "test.csv", file_sha256(test)) is None
    assert sub.default_solution(tmp_path / "test.csv",
                                BUILTIN_CSV_SHA256["test.csv"]) == tmp_path / "solution.csv"


def test_check_solution_before_training(sample_files):
    sub.check_solution(sample_files["solution"], 1000)
    with pytest.raises(KdigitsError, match="not the solution"):
        sub.check_solution(sample_files["solution"], 28_000)
    with pytest.raises(KdigitsError, match="not found"):
        sub.check_solution(sample_files["solution"].with_name("nope.csv"), 1000)


@pytest.mark.parametrize(("model", "asked", "expected"), [
    ("cnn-fast", None, True), ("cnn-fast", False, False), ("mlp", None, False),
    ("mlp", True, True)])
def test_tta_is_the_recipes_unless_asked(sample_files, tmp_path, model, asked, expected):
    plan = sub.plan_submit(sub.SubmitConfig(model=model, tta=asked, train=sample_files["train"],
                                            test=sample_files["test"], out=tmp_path / "s.csv"))
    assert plan.config.tta is expected and plan.record["tta"] is expected


# ----------------------------------------------------------------------------- reporting


def test_class_distribution_beside_training(train_sample):
    _, labels = train_sample
    predicted = labels[:1000].astype(np.int64)
    table = sub.class_distribution(predicted, labels)
    assert list(table.index) == list(range(10))
    assert table["predicted"].sum() == 1000 and table["train"].sum() == len(labels)
    np.testing.assert_allclose(table["predicted_share"].sum(), 1)
    np.testing.assert_allclose(table["train_share"].sum(), 1)
    assert table.loc[1, "predicted"] == int((predicted == 1).sum())
    # a collapsed model is visible at a glance
    collapsed = sub.class_distribution(np.full(1000, 7), labels)
    assert collapsed.loc[7, "predicted_share"] == 1 and collapsed["predicted"].sum() == 1000
    assert "train" not in sub.class_distribution(predicted, None)


def test_score_against_solution(sample_files):
    truth = read_label_file(sample_files["solution"]).labels.astype(np.int64)
    wrong = truth.copy()
    wrong[:50] = (wrong[:50] + 1) % 10
    stats = sub.score(wrong, sample_files["solution"])
    assert stats.accuracy == pytest.approx((len(truth) - 50) / len(truth))
    assert int(stats.table.sum()) == len(truth)
    record = sub.score_record(stats, sample_files["solution"])
    assert record["rows"] == len(truth) and len(record["sha256"]) == 64
    with pytest.raises(KdigitsError, match="rows"):
        sub.score(wrong[:-1], sample_files["solution"])


# ----------------------------------------------------------------------------- ensembles


def test_ensemble_of_identical_probability_files_equals_either(tmp_path, digits):
    _, labels = digits
    probs = fake_probabilities(labels)
    a = sub.write_bundle(tmp_path / "a.csv", probs, {})
    b = sub.write_bundle(tmp_path / "b.csv", probs, {})
    result = ens.ensemble([a, b])
    assert result.method == "mean-probabilities"
    np.testing.assert_array_equal(result.probabilities, probs)
    np.testing.assert_array_equal(result.labels, labels)
    out = ens.write_ensemble(result, tmp_path / "ens.csv", {})
    assert out.read_bytes() == a.read_bytes()
    np.testing.assert_array_equal(np.load(tmp_path / "ens.probs.npy"), probs)


def test_ensemble_averages_probabilities(tmp_path, digits):
    _, labels = digits
    sure = fake_probabilities(labels, confidence=0.9, seed=1)
    # a second model, wrong on the first 100 rows but only just: the truth is its runner-up
    unsure = fake_probabilities(labels, confidence=0.6, seed=2)
    rows = np.arange(100)
    unsure[rows] = 0.25 / 8
    unsure[rows, (labels[rows] + 1) % 10] = 0.40
    unsure[rows, labels[rows]] = 0.35
    a = sub.write_bundle(tmp_path / "a.csv", sure, {})
    b = sub.write_bundle(tmp_path / "b.csv", unsure, {})
    result = ens.ensemble([b, a])
    np.testing.assert_allclose(result.probabilities, (sure + unsure) / 2, rtol=1e-6)
    np.testing.assert_array_equal(result.labels, labels)  # the confident model wins
    assert result.agreement == [pytest.approx(0.8), 1.0]


def test_majority_vote_breaks_ties_by_the_earliest_file():
    votes = np.array([
        [3, 7, 1, 4, 0],
        [5, 3, 1, 5, 9],
        [5, 5, 2, 6, 8],
        [3, 3, 2, 7, 7],
    ])
    # col 0: 3 vs 5 tie → file 1 says 3; col 1: 3 vs... 3×2 beats 7, 5;
    # col 2: 1 vs 2 tie → file 1 says 1; col 3: four-way tie → 4; col 4: all differ → 0
    np.testing.assert_array_equal(ens.majority_vote(votes), [3, 3, 1, 4, 0])
    # file 1's label is not among the tied ones: the next file that names one decides
    np.testing.assert_array_equal(ens.majority_vote(np.array([[7], [2], [9], [9], [2]])),
                                  [2])


def test_ensemble_majority_vote_on_plain_submissions(tmp_path, sample_files):
    truth = read_label_file(sample_files["solution"]).labels.astype(np.int64)
    rng = np.random.default_rng(7)
    paths = []
    for i in range(3):  # three "models", each wrong on a different 10% of rows
        noisy = truth.copy()
        rows = rng.choice(len(truth), size=len(truth) // 10, replace=False)
        noisy[rows] = (noisy[rows] + 1 + i) % 10
        paths.append(tmp_path / f"plain{i}.csv")
        write_plain(paths[-1], noisy)
    result = ens.ensemble(paths)
    assert result.method == "majority-vote" and result.probabilities is None
    singles = [float((read_label_file(p).labels == truth).mean()) for p in paths]
    assert float((result.labels == truth).mean()) > max(singles)
    out = ens.write_ensemble(result, tmp_path / "vote.csv", {"method": result.method})
    assert submission_problems(out, len(truth)) == []
    onehot = np.load(tmp_path / "vote.probs.npy")
    np.testing.assert_array_equal(onehot.argmax(axis=1), result.labels)


def test_ensemble_mixed_inputs_fall_back_to_voting(tmp_path, digits):
    _, labels = digits
    a = sub.write_bundle(tmp_path / "a.csv", fake_probabilities(labels), {})
    b = tmp_path / "b.csv"
    write_plain(b, labels)
    assert ens.ensemble([a, b]).method == "majority-vote"


def test_ensemble_input_checks(tmp_path, digits):
    _, labels = digits
    a = sub.write_bundle(tmp_path / "a.csv", fake_probabilities(labels), {})
    short = tmp_path / "short.csv"
    write_plain(short, labels[:-1])
    with pytest.raises(KdigitsError, match="different row counts"):
        ens.ensemble([a, short])
    with pytest.raises(KdigitsError, match="at least two"):
        ens.ensemble([a])
    # probabilities that belong to another file are refused, not silently averaged
    c = tmp_path / "c.csv"
    write_plain(c, (labels + 1) % 10)
    np.save(tmp_path / "c.probs.npy", fake_probabilities(labels))
    with pytest.raises(KdigitsError, match="does not belong"):
        ens.ensemble([a, c])


def test_weighted_ensemble_gives_each_input_its_say(tmp_path, digits):
    _, labels = digits
    sure = fake_probabilities(labels, confidence=0.9, seed=1)
    wrong = fake_probabilities((labels + 1) % 10, confidence=0.9, seed=2)
    a = sub.write_bundle(tmp_path / "a.csv", sure, {})
    b = sub.write_bundle(tmp_path / "b.csv", wrong, {})
    result = ens.ensemble([a, b], weights=[1, 2])
    np.testing.assert_allclose(result.probabilities, (sure + 2 * wrong) / 3, rtol=1e-6)
    np.testing.assert_array_equal(result.labels, (labels + 1) % 10)  # two say against one
    assert result.weights == [pytest.approx(1 / 3), pytest.approx(2 / 3)]
    assert [item["weight"] for item in result.inputs] == result.weights
    np.testing.assert_array_equal(ens.ensemble([a, b], weights=[2, 1]).labels, labels)


def test_weighted_vote_outweighs_a_majority_of_lighter_files():
    votes = np.array([[1, 1, 5], [2, 2, 5], [2, 3, 6]])
    np.testing.assert_array_equal(ens.majority_vote(votes), [2, 1, 5])
    # file 1 weighs 3: it beats the two others together, or ties them (earliest wins)
    np.testing.assert_array_equal(ens.majority_vote(votes, [3, 1, 1]), [1, 1, 5])
    np.testing.assert_array_equal(ens.majority_vote(votes, [1, 1, 2]), [2, 3, 5])


def test_weights_by_members_read_each_files_record(tmp_path, digits):
    _, labels = digits
    one = sub.write_bundle(tmp_path / "one.csv", fake_probabilities(labels, seed=1),
                           {"config": {"members": 1}})
    two = sub.write_bundle(tmp_path / "two.csv", fake_probabilities(labels, seed=2),
                           {"config": {"members": 2}})
    assert ens.parse_weights("members", [one, two]) == [1.0, 2.0]
    assert ens.parse_weights(" 1, 2.5", [one, two]) == [1.0, 2.5]
    best = sub.write_bundle(tmp_path / "best.csv", fake_probabilities(labels, seed=3),
                            {"config": {"members": 1, "mix_with": "cnn-fast",
                                        "mix_members": 2}})
    assert ens.recorded_members(best) == 2  # its cnn-fast pair weighs as one member
    grouped = sub.write_bundle(tmp_path / "grouped.csv", fake_probabilities(labels, seed=4),
                               {"config": {"members": 1, "mix_with": "cnn-fast",
                                           "mix_members": 2,
                                           "mix_variants": [{}, {"deskew": True}]}})
    assert ens.recorded_members(grouped) == 3  # and each pair of today's `best` as one
    made = ens.make_ensemble([one, two], out=tmp_path / "mix.csv", weights="members")
    assert made.ensemble.weights == [pytest.approx(1 / 3), pytest.approx(2 / 3)]
    assert sub.read_record(made.path)["members"] == 3  # an ensemble is weighed in turn
    assert ens.recorded_members(made.path) == 3
    plain = tmp_path / "plain.csv"
    write_plain(plain, labels)
    with pytest.raises(KdigitsError, match="does not say how many models"):
        ens.parse_weights("members", [one, plain])
    for bad, message in (("1", "1 weight for 2"), ("1,x", "one number per submission"),
                         ("1,0", "positive"), ("1,nan", "positive"), ("1,2,3", "3 weights")):
        with pytest.raises(KdigitsError, match=message):
            ens.parse_weights(bad, [one, two])


# ----------------------------------------------------------------------------- upload


@pytest.fixture
def no_credentials(tmp_path, monkeypatch):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR",
                 "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    calls = []
    monkeypatch.setattr(kaggle_api, "kaggle_submit",
                        lambda path, message: calls.append(path) or "ok")
    return calls


def test_upload_without_credentials_says_where_they_go(tmp_path, digits, no_credentials):
    _, labels = digits
    out = sub.write_bundle(tmp_path / "s.csv", fake_probabilities(labels), {})
    assert kaggle_api.kaggle_credentials() is None
    with pytest.raises(KdigitsError, match=r"^no Kaggle credentials: save your API token .* as "
                                           r"~/\.kaggle/kaggle\.json, or set KAGGLE_USERNAME "
                                           "and KAGGLE_KEY") as error:
        kaggle_api.upload(out, "first try", rows=len(labels))
    message = str(error.value)
    assert "\n" not in message and "kaggle.json" in message and "KAGGLE_KEY" in message
    assert no_credentials == []


@pytest.mark.parametrize("where", ["env", "file"])
def test_upload_validates_before_calling_kaggle(tmp_path, digits, no_credentials,
                                                monkeypatch, where):
    _, labels = digits
    if where == "env":
        monkeypatch.setenv("KAGGLE_USERNAME", "someone")
        monkeypatch.setenv("KAGGLE_KEY", "0" * 32)
    else:
        folder = tmp_path / "home" / ".kaggle"
        folder.mkdir(parents=True)
        (folder / "kaggle.json").write_text('{"username": "someone", "key": "x"}')
    assert kaggle_api.kaggle_credentials() is not None
    good = sub.write_bundle(tmp_path / "s.csv", fake_probabilities(labels), {})
    bad = tmp_path / "bad.csv"
    write_plain(bad, labels[:-1])  # one row short
    with pytest.raises(KdigitsError, match="not a valid submission"):
        kaggle_api.upload(bad, "msg", rows=len(labels))
    with pytest.raises(KdigitsError, match="not a valid submission"):
        # right file, wrong test set
        kaggle_api.upload(good, "msg", rows=constants.KAGGLE_TEST_ROWS)
    with pytest.raises(KdigitsError, match="message"):
        kaggle_api.upload(good, "  ", rows=len(labels))
    assert no_credentials == []
    assert kaggle_api.upload(good, "msg", rows=len(labels)) == "ok"
    assert no_credentials == [good]


# ----------------------------------------------------------------------------- ensemble scoring


def test_ensemble_is_scored_only_against_its_own_test_files_solution(tmp_path, sample_files):
    """The ensemble finds its solution by submit's SHA pairing rule, through the test file
    its inputs' records name: a solution beside another test file of the same size (here,
    answers from elsewhere for Kaggle's 28,000 rows) is never used."""
    from kaggle_digits.data import file_sha256

    test, solution = sample_files["test"], sample_files["solution"]
    labels = read_label_file(solution).labels.astype(np.int64)
    record = {"test": {"path": str(test), "sha256": file_sha256(test)}}
    inputs = [sub.write_bundle(tmp_path / f"{name}.csv", fake_probabilities(labels, seed=k),
                               record) for k, name in enumerate("ab")]
    assert ens.ensemble_solution(inputs, len(labels)) == solution

    made = ens.make_ensemble(inputs, out=tmp_path / "ens.csv")
    assert made.solution == solution and made.score.accuracy == 1.0
    assert json.loads((tmp_path / "ens.json").read_text())["score"]["accuracy"] == 1.0

    # Kaggle's own test.csv (28,000 rows) copied beside the built-in answers (28,000 rows)
    builtin_solution = Path(__file__).resolve().parents[1] / "data" / "solution.csv"
    from kaggle_digits.builtin import BUILTIN_CSV_SHA256

    if file_sha256(builtin_solution) != BUILTIN_CSV_SHA256["solution.csv"]:
        pytest.skip("data/solution.csv is not the built-in one")
    kaggle = tmp_path / "kaggle"
    kaggle.mkdir()
    (kaggle / "test.csv").write_bytes(test.read_bytes())  # stands in for Kaggle's file
    (kaggle / "solution.csv").write_bytes(builtin_solution.read_bytes())
    answers = read_label_file(builtin_solution).labels.astype(np.int64)
    other = {"test": {"path": str(kaggle / "test.csv"), "sha256": file_sha256(test)}}
    strangers = [sub.write_bundle(tmp_path / f"k{name}.csv", fake_probabilities(answers),
                                  other) for name in "ab"]
    assert ens.ensemble_solution(strangers, len(answers)) is None
    unscored = ens.make_ensemble(strangers, out=tmp_path / "kens.csv")
    assert unscored.score is None and unscored.solution is None
    assert "score" not in json.loads((tmp_path / "kens.json").read_text())

    # inputs that name different test files: nothing is known, nothing is scored
    elsewhere = sub.write_bundle(tmp_path / "c.csv", fake_probabilities(labels),
                                 {"test": {"path": str(test), "sha256": "f" * 64}})
    assert ens.ensemble_solution([inputs[0], elsewhere], len(labels)) is None


def test_kept_nets_are_found_only_by_the_command_that_trained_them() -> None:
    """The folder of an interrupted submit's nets is named by all that decides them: the
    same command finds it whatever its --out there; other settings, data, threads, --jobs
    or an edited model file do not."""
    from dataclasses import replace

    from kaggle_digits.train import config_for

    config = config_for("mlp", members=2, epochs=1)
    record = {"train": {"sha256": "a" * 64}, "jobs": 1, "backend": "tensorflow",
              "device": "CPU (2 threads)"}
    kept = sub.partial_folder(Path("subs/one.csv"), config, record)
    assert kept == sub.partial_folder(Path("subs/other.csv"), config, record)
    assert kept.parent == Path("subs") and kept.name.startswith(".kdigits-partial-")
    others = [sub.partial_folder(Path("subs/one.csv"), config, changed) for changed in (
        {**record, "train": {"sha256": "b" * 64}}, {**record, "jobs": 2},
        {**record, "device": "CPU (1 threads)"}, {**record, "model_file": {"sha256": "c"}})]
    others.append(sub.partial_folder(Path("subs/one.csv"), replace(config, seed=7), record))
    assert kept not in others and len(set(others)) == len(others)
