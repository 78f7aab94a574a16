"""`kdigits score` and `kdigits validate` as a user runs them.

A few tests run the real command in a subprocess (`kdigits` fixture); the many error cases
run the same entry point in-process (`cli`), which is seconds faster per call.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import EXIT_CODE, GOLDEN

from kaggle_digits.stats import BY_CLASS_KEYS, OVERALL_KEYS


@pytest.fixture(scope="module")
def seed_csvs(tmp_path_factory) -> tuple[Path, Path]:
    """seed-example.json rebuilt as Kaggle files: (submission, solution)."""
    source = GOLDEN / "seed-example.json"
    if not source.exists():
        pytest.fail(f"caret golden data missing: {source}")
    case = json.loads(source.read_text())
    classes = np.array(case["classes"])
    folder = tmp_path_factory.mktemp("seed")
    paths = folder / "submission.csv", folder / "solution.csv"
    for path, key in zip(paths, ("prediction", "reference"), strict=True):
        labels = classes[case[key]]
        pd.DataFrame({"ImageId": np.arange(1, labels.size + 1), "Label": labels}).to_csv(
            path, index=False)
    return paths


@pytest.fixture
def cli(capsys, monkeypatch):
    """`cli(*args)` runs `kdigits.cli.main` in-process: (exit code, stdout, stderr)."""
    from kaggle_digits.cli import main

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        monkeypatch.setattr(sys, "argv", ["kdigits", *args])
        with pytest.raises(SystemExit, match=EXIT_CODE) as stop:
            main()
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, stop.value.code or 0, out.out, out.err)

    return run


def write_labels(path: Path, rows: list[tuple[object, object]], header="ImageId,Label") -> Path:
    path.write_text(header + "\n" + "".join(f"{a},{b}\n" for a, b in rows))
    return path


def test_score_prints_caret_block_digit_for_digit(kdigits, seed_csvs):
    submission, solution = seed_csvs
    result = kdigits("score", str(submission), "--solution", str(solution))
    assert result.returncode == 0, result.stderr
    expected = (GOLDEN / "seed-example.caret.txt").read_text()
    title, _, block = result.stdout.partition("\n")
    assert "8,396 images" in title
    assert block == expected


def test_score_json_to_stdout_follows_the_field_list(kdigits, seed_csvs):
    """Also: score starts without TensorFlow (the import profile of `python -X importtime`)."""
    submission, solution = seed_csvs
    env = {"PYTHONPROFILEIMPORTTIME": "1"}  # same as python -X importtime
    result = kdigits("score", str(submission), "-s", str(solution), "--json", "-", env=env)
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip().split(".")[0]
                for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "scipy" in imported  # the profile really was taken
    assert not imported & {"tensorflow", "keras", "torch", "jax"}
    out = json.loads(result.stdout)  # nothing but JSON on stdout
    assert set(out) == {"classes", "table", "overall", "by_class"}
    assert out["classes"] == [str(c) for c in range(10)]
    assert all(isinstance(c, str) for c in out["classes"])
    assert np.array(out["table"]).shape == (10, 10)
    assert set(out["overall"]) == set(OVERALL_KEYS)
    assert set(out["by_class"]) == set(out["classes"])
    for values in out["by_class"].values():
        assert set(values) == set(BY_CLASS_KEYS)
        assert all(v is None or isinstance(v, float) for v in values.values())
    golden = json.loads((GOLDEN / "seed-example.json").read_text())
    assert out["table"] == golden["table"]
    assert out["overall"]["mcnemar_p_value"] is None  # NaN → null
    assert out["overall"]["accuracy"] == pytest.approx(golden["overall"]["accuracy"])


def test_score_json_file_and_modes(cli, seed_csvs, tmp_path: Path):
    submission, solution = seed_csvs
    target = tmp_path / "stats.json"
    first = cli("score", str(submission), "-s", str(solution), "--json", str(target),
                    "--mode", "everything")
    assert first.returncode == 0, first.stderr
    assert "F1 " in first.stdout and f"wrote {target}" in first.stdout
    assert json.loads(target.read_text())["overall"]["kappa"] == pytest.approx(0.9742, abs=1e-4)
    again = cli("score", str(submission), "-s", str(solution), "--json", str(target))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert cli("score", str(submission), "-s", str(solution), "--json", str(target),
                   "--force").returncode == 0


def test_two_class_labels_option(cli, tmp_path: Path):
    sub = write_labels(tmp_path / "sub.csv", [(1, 1), (2, 0), (3, 1), (4, 1)])
    sol = write_labels(tmp_path / "sol.csv", [(1, 1), (2, 1), (3, 0), (4, 1)])
    result = cli("score", str(sub), "-s", str(sol), "--labels", "1,0")
    assert result.returncode == 0, result.stderr
    assert "'Positive' Class : 1" in result.stdout
    assert "Prediction 1 0" in result.stdout


@pytest.mark.parametrize(("sub_rows", "sol_rows", "extra", "message"), [
    ([(1, 3), (2, 4)], [(1, 3), (2, 4), (3, 5)], [],
     "1 ImageId of .*sol.csv missing \\(first: 3\\)"),
    ([(1, 3), (2, 4), (9, 5)], [(1, 3), (2, 4)], [], "1 ImageId not in .*sol.csv \\(first: 9\\)"),
    ([(1, 3), (1, 4)], [(1, 3), (2, 4)], [], "1 ImageId appears more than once \\(first: 1\\)"),
    ([(1, 3), (2, 12)], [(1, 3), (2, 4)], ["--labels", "0-9"],
     "sub.csv: 1 label outside the levels 0-9 \\(line 3: 12\\)"),
    ([(1, 3), (2, "x")], [(1, 3), (2, 4)], [], "non-integer Label \\(line 3: 'x'\\)"),
])
def test_score_errors_are_one_line(cli, tmp_path: Path, sub_rows, sol_rows, extra, message):
    sub = write_labels(tmp_path / "sub.csv", sub_rows)
    sol = write_labels(tmp_path / "sol.csv", sol_rows)
    result = cli("score", str(sub), "-s", str(sol), *extra)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert re.search(message, lines[0]), lines[0]


def test_score_wrong_header_empty_file_and_blank_line(cli, tmp_path: Path):
    sol = write_labels(tmp_path / "sol.csv", [(1, 3), (2, 4)])
    cases = {
        "header": (write_labels(tmp_path / "h.csv", [(1, 3), (2, 4)], header="id,label"),
                   "header is 'id,label', expected 'ImageId,Label'"),
        "empty": (tmp_path / "empty.csv", "is empty"),
        "blank": (tmp_path / "blank.csv", "1 blank line (line 3)"),
    }
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "blank.csv").write_text("ImageId,Label\n1,3\n\n2,4\n")
    for name, (path, message) in cases.items():
        result = cli("score", str(path), "-s", str(sol))
        assert result.returncode == 2, name
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_score_error_from_the_real_command(kdigits, tmp_path: Path):
    sub = write_labels(tmp_path / "sub.csv", [(1, 3), (2, 4)])
    sol = write_labels(tmp_path / "sol.csv", [(1, 3), (2, 4), (3, 5), (4, 1)])
    result = kdigits("score", str(sub), "-s", str(sol))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == f"error: {sub}: 2 ImageIds of {sol} missing (first: 3, 4)"


def test_validate_accepts_a_valid_file(kdigits, sample_files, tmp_path: Path):
    labels = pd.read_csv(sample_files["solution"])
    path = tmp_path / "submission.csv"
    labels.to_csv(path, index=False)
    result = kdigits("validate", str(path), "--test", str(sample_files["test"]))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: ") and "1,000 rows" in result.stdout


@pytest.mark.parametrize(("edit", "message"), [
    (lambda df: df.rename(columns={"Label": "label"}), "header is 'ImageId,label'"),
    (lambda df: df.drop(index=999), "999 rows, expected 1000"),
    (lambda df: df.assign(ImageId=df.ImageId.where(df.index != 5, 5)),
     "1 ImageId appears more than once (5 on lines 6, 7)"),
    (lambda df: df.assign(Label=df.Label.where(df.index != 41, 10)),
     "1 row with a label outside 0-9 (line 43: 10)"),
    (lambda df: df.assign(Label=df.Label.astype(float)), "1000 rows with a non-integer Label"),
])
def test_validate_catches(cli, sample_files, tmp_path: Path, edit, message):
    path = tmp_path / "submission.csv"
    edit(pd.read_csv(sample_files["solution"])).to_csv(path, index=False)
    result = cli("validate", str(path), "--test", str(sample_files["test"]))
    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_validate_catches_blank_line_in_the_middle(cli, sample_files, tmp_path: Path):
    lines = Path(sample_files["solution"]).read_text().splitlines()
    lines.insert(500, "")
    path = tmp_path / "submission.csv"
    path.write_text("\n".join(lines) + "\n")
    result = cli("validate", str(path), "--test", str(sample_files["test"]))
    assert result.returncode == 2
    assert "1 blank line (line 501)" in result.stderr
