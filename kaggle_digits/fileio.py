"""Writing files so that nothing the user had is lost.

Every file kdigits writes goes through :func:`atomic_output`: the bytes land in a temp file
in the same folder, are flushed to disk, and only then take the final name. A crash, a
Ctrl-C or a full disk leaves either the old file or the new one, never half of one. Without
``force`` the final step is a hard link, which fails if the name exists: of two processes
writing the same path, one wins and the other refuses, with no window in between.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from kaggle_digits.errors import KdigitsError


def refuse_existing(path: Path, force: bool) -> None:
    """Raise the standard one-line refusal if ``path`` exists and ``force`` is off."""
    if path.exists() and not force:
        raise KdigitsError(f"{path} already exists; use --force to replace it")


def refuse_file_as_folder(path: str | os.PathLike[str], option: str) -> None:
    """A folder option (``--runs-dir``) given the name of a file: say so, rather than let
    a later ``mkdir`` fail with the system's "File exists"."""
    if Path(path).exists() and not Path(path).is_dir():
        raise KdigitsError(f"{option} {path} is a file, not a folder")


def refuse_missing_folder(path: str | os.PathLike[str], option: str) -> None:
    """An output named by the user goes into a folder that exists: a typo in the folder
    would otherwise create a new tree somewhere unexpected. (kdigits' own default folders,
    such as ``submissions/``, are still created on first use.)"""
    folder = Path(path).parent
    if not folder.is_dir():
        state = "is a file" if folder.exists() else "does not exist"
        raise KdigitsError(f"{option} {path}: the folder {folder} {state}; create it first "
                           "or choose another")


def describe_os_error(error: OSError, path: Path) -> str:
    """One line for an OS error, naming the path and the cause a user can act on."""
    if error.errno == errno.ENOSPC:
        return f"cannot write {path}: no space left on device"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {path}: permission denied (read-only folder?)"
    return f"cannot write {path}: {error.strerror or error}"


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, force: bool = False,
                  binary: bool = False, newline: str | None = "") -> Iterator[IO[Any]]:
    """Open a temp file that becomes ``path`` only if the ``with`` block succeeds."""
    target = Path(path)
    refuse_existing(target, force)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                        suffix=".tmp")
    except OSError as error:
        raise KdigitsError(describe_os_error(error, target)) from error
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, _default_file_mode())  # mkstemp's 0600 would hide results from others
        mode = "wb" if binary else "w"
        encoding = None if binary else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding, newline=None if binary else newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _publish(tmp, target, force)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise KdigitsError(describe_os_error(error, target)) from error
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@functools.cache
def _default_file_mode() -> int:
    """The mode ``open()`` would give a new file: 0666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _publish(tmp: Path, target: Path, force: bool) -> None:
    if force:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise KdigitsError(f"{target} already exists; use --force to replace it") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike[str], text: str, *, force: bool = False) -> Path:
    with atomic_output(path, force=force) as handle:
        handle.write(text)
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> Path:
    with atomic_output(path, force=force, binary=True) as handle:
        handle.write(data)
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any, *, force: bool = False) -> Path:
    """JSON with NaN written as ``null`` (strict JSON), indented for people to read."""
    return write_text(path, json.dumps(nan_to_none(obj), indent=2, allow_nan=False) + "\n",
                      force=force)


def nan_to_none(obj: Any) -> Any:
    """Recursively replace float NaN (and numpy scalars) with JSON-safe values."""
    if isinstance(obj, dict):
        return {str(k): nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [nan_to_none(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, str | bytes):
        return nan_to_none(obj.tolist())
    if isinstance(obj, float) and obj != obj:
        return None
    return obj
