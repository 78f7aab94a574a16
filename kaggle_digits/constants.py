"""Facts about the competition that every module agrees on, each stated once.

Digits are 28×28 grey images flattened to 784 pixels; there are ten classes; caret prints
its by-class rows under fixed names in a fixed order; Kaggle calls the competition
``digit-recognizer`` and its test.csv has 28,000 rows. Importing this module costs nothing.
"""

from __future__ import annotations

SIDE = 28  # an image is SIDE × SIDE pixels
N_PIXELS = SIDE * SIDE
N_CLASSES = 10
CLASSES: tuple[int, ...] = tuple(range(N_CLASSES))
PROB_COLUMNS: tuple[str, ...] = tuple(f"prob_{k}" for k in CLASSES)

# caret's by-class measures: (our key in ConfusionStats, caret's row name), in caret's order.
BY_CLASS_ROWS: tuple[tuple[str, str], ...] = (
    ("sensitivity", "Sensitivity"),
    ("specificity", "Specificity"),
    ("pos_pred_value", "Pos Pred Value"),
    ("neg_pred_value", "Neg Pred Value"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("prevalence", "Prevalence"),
    ("detection_rate", "Detection Rate"),
    ("detection_prevalence", "Detection Prevalence"),
    ("balanced_accuracy", "Balanced Accuracy"),
)
# caret's ``mode`` argument: which of those rows print.
PRINT_MODES: tuple[str, ...] = ("sens_spec", "prec_recall", "everything")
DEFAULT_PRINT_MODE = "sens_spec"

COMPETITION = "digit-recognizer"
KAGGLE_TEST_ROWS = 28_000  # Kaggle's test.csv, used when no local test file says otherwise
DEFAULT_MODEL = "cnn-fast"
