"""kdigits: Kaggle Digit Recognizer from CSV to a scored, reproducible submission."""

__version__ = "0.1.0"
