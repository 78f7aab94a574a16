"""kdigits: Kaggle Digit Recognizer from CSV to a scored, reproducible submission.

``import kaggle_digits as kd`` gives the Python API (`kaggle_digits.api`): ``kd.load_train``,
``kd.cross_validate``, ``kd.make_submission``, ``kd.score``, ``kd.validate``, … The API
module is imported on first use of one of its names (PEP 562), so importing the package,
and ``kdigits --help``, never pays for TensorFlow, pandas or scikit-learn.
"""

from kaggle_digits.errors import KdigitsError
from kaggle_digits.version import __version__

API_NAMES = (
    "load_train", "load_test",
    "cross_validate", "resume", "open_run", "CrossValidation",
    "make_submission", "make_ensemble", "validate", "score", "upload",
    "write_report", "compare", "Comparison",
    "CaretStats",
)
__all__ = ["KdigitsError", "__version__", *API_NAMES]


def __getattr__(name: str) -> object:
    if name in API_NAMES:
        from kaggle_digits import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API_NAMES})
