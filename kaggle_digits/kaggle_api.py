"""Everything that talks to Kaggle, or handles what Kaggle hands out, in one place.

Credentials are looked up before the ``kaggle`` package is imported, because importing it
without them prints a page of help and exits. The two network calls (download the
competition zip, submit a file) are kept tiny, because they cannot be exercised offline;
the rest (installing the zip's CSVs into data/, validating before an upload) is ordinary
code with tests.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

from kaggle_digits.constants import COMPETITION
from kaggle_digits.data import FetchedFile, file_sha256, load_test, load_train
from kaggle_digits.errors import Interrupted, KdigitsError, last_line
from kaggle_digits.fileio import write_bytes
from kaggle_digits.submission_file import check_submission


def kaggle_credentials() -> str | None:
    """Where the kaggle package would find credentials, or None; checked before importing
    it, because ``import kaggle`` without credentials prints a page of help and exits."""
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "KAGGLE_API_TOKEN"
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME/KAGGLE_KEY"
    folders = [Path.home() / ".kaggle"]
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        folders.insert(0, Path(os.environ["KAGGLE_CONFIG_DIR"]))
    xdg = os.environ.get("XDG_CONFIG_HOME")
    folders.append((Path(xdg) if xdg else Path.home() / ".config") / "kaggle")
    for folder in folders:
        for name in ("kaggle.json", "access_token", "credentials.json"):
            if (folder / name).is_file():
                return str(folder / name)
    return None


def download_kaggle_zip(folder: Path) -> Path:
    """``kaggle competitions download -c digit-recognizer`` into ``folder``; the one place
    that talks to Kaggle, kept small because it cannot be exercised offline."""
    if kaggle_credentials() is None:
        raise KdigitsError(
            "no Kaggle credentials: put kaggle.json in ~/.kaggle/ (or set KAGGLE_USERNAME and "
            "KAGGLE_KEY, or KAGGLE_API_TOKEN); or download digit-recognizer.zip in a browser "
            "and run `kdigits data kaggle --zip digit-recognizer.zip`")
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi

        api = KaggleApi()
        api.authenticate()
        api.competition_download_files(COMPETITION, path=str(folder), quiet=True)
    except (Exception, SystemExit) as error:
        raise KdigitsError(f"Kaggle download failed: {last_line(str(error))} (have you "
                           "accepted the competition rules on kaggle.com?)") from None
    zipped = folder / f"{COMPETITION}.zip"
    if not zipped.is_file():
        raise KdigitsError(f"Kaggle download left no {zipped}")
    return zipped


def install_kaggle_zip(zipped: str | os.PathLike[str], data_dir: str | os.PathLike[str] = "data",
                       *, force: bool = False) -> list[FetchedFile]:
    """Validate Kaggle's train.csv and test.csv inside the zip, then copy them (and
    sample_submission.csv, if present) into ``data_dir``; nothing is written if either
    file is bad or a differing file is in the way."""
    zipped, folder = Path(zipped), Path(data_dir)
    train = load_train(zipped)
    test = load_test(zipped)
    members = {"train.csv": (train.sha256, len(train)), "test.csv": (test.sha256, len(test))}
    plan = []
    with zipfile.ZipFile(zipped) as archive:
        for name in archive.namelist():
            base = name.rsplit("/", 1)[-1]
            if base == "sample_submission.csv":
                data = archive.read(name)
                members[base] = (hashlib.sha256(data).hexdigest(), data.count(b"\n") - 1)
        for base, (sha, rows) in members.items():
            target = folder / base
            if not target.exists():
                status = "written"
            elif target.is_file() and file_sha256(target) == sha:
                status = "up to date"
            elif force:
                status = "replaced"
            else:
                raise KdigitsError(f"{target} exists and differs from {zipped.name}'s {base}; "
                                   "use --force to replace it")
            plan.append((base, target, sha, rows, status))
        files = []
        for base, target, sha, rows, status in plan:
            if status != "up to date":
                member = next(n for n in archive.namelist() if n.rsplit("/", 1)[-1] == base)
                write_bytes(target, archive.read(member), force=force)
            files.append(FetchedFile(target, rows, sha, status))
    return files


CREDENTIALS_HELP = ("no Kaggle credentials: save your API token (kaggle.com → Settings → API "
                    "→ Create New Token) as ~/.kaggle/kaggle.json, or set KAGGLE_USERNAME and "
                    "KAGGLE_KEY")


def upload(path: str | os.PathLike[str], message: str, *, rows: int) -> str:
    """Validate, check credentials, then submit: a bad file never reaches Kaggle."""
    if not Path(path).is_file():
        raise KdigitsError(f"{path}: no such file")
    check_submission(path, rows)
    if not message.strip():
        raise KdigitsError("the submission message (-m) must not be empty")
    require_credentials()
    try:
        return kaggle_submit(Path(path), message)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted while uploading {path}: it may or may not have "
                          "reached Kaggle; look at your submissions there before uploading "
                          "it again") from None


def require_credentials() -> None:
    """Checked before the kaggle package is imported (which prints a page of help and
    exits without them), and by ``submit --upload`` before any training."""
    if kaggle_credentials() is None:
        raise KdigitsError(CREDENTIALS_HELP)


def kaggle_submit(path: Path, message: str) -> str:
    """The only network call of submit/upload: the kaggle package's ``competition_submit``,
    kept this small because it cannot be exercised offline."""
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError as error:
        raise KdigitsError("the kaggle package is not installed: pip install kaggle") from error
    try:
        api = KaggleApi()
        api.authenticate()
        response = api.competition_submit(str(path), message, COMPETITION, quiet=True)
    except SystemExit as error:  # the package exits when it rejects the credentials
        raise KdigitsError(CREDENTIALS_HELP.replace("no Kaggle", "unusable Kaggle")) from error
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise KdigitsError(f"upload to Kaggle failed: {first}") from error
    return str(getattr(response, "message", "") or "submitted")
