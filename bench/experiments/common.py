"""Shared scaffolding for the scratch experiments: cached arrays and a per-epoch test scorer."""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "bench" / "results" / "arrays.npz"


def load_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) as uint8, cached after the first CSV parse."""
    if not CACHE.exists():
        train = pd.read_csv(REPO / "data" / "train.csv").to_numpy(np.uint8)
        test = pd.read_csv(REPO / "data" / "test.csv").to_numpy(np.uint8)
        sol = pd.read_csv(REPO / "data" / "solution.csv")["Label"].to_numpy(np.uint8)
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        np.savez(CACHE, xtr=train[:, 1:], ytr=train[:, 0], xte=test, yte=sol)
    z = np.load(CACHE)
    return z["xtr"], z["ytr"], z["xte"], z["yte"]


def make_scorer(x_test, y_test, log):
    """A Keras callback that scores the held-back test after each epoch, off the clock."""
    import keras

    class Score(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.train_s = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            dt = time.perf_counter() - self.t0
            self.train_s += dt
            t1 = time.perf_counter()
            p = self.model.predict(x_test, batch_size=1024, verbose=0).argmax(1)
            pred_s = time.perf_counter() - t1
            acc = float((p == y_test).mean())
            log.append({"epoch": epoch + 1, "sec": dt, "cum": self.train_s, "acc": acc,
                        "pred_s": pred_s})
            print(f"  ep {epoch + 1:2d}  {dt:6.1f}s  cum {self.train_s:6.1f}s  "
                  f"acc {acc:.4f}  pred {pred_s:.1f}s", flush=True)

    return Score()
