"""Scratch: training throughput (images/s) of candidates vs `cnn`, interleaved, on 6,400 rows.

python timing.py lenet s2 lenet:bf16 lenet:jit ...   (suffixes :bf16 :jit :b512 :aug)
"""

from __future__ import annotations

import sys
import time

from common import load_arrays
from exp import layers_for


def throughput(spec: str, x, y) -> float:
    import keras
    from keras import layers as L

    name, *flags = spec.split(":")
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if "bf16" in flags else "float32")
    batch = next((int(f[1:]) for f in flags if f[0] == "b" and f[1:].isdigit()), 128)
    body = layers_for(name)
    body[-1] = L.Dense(10, activation="softmax", dtype="float32")
    aug = ([L.RandomRotation(0.03), L.RandomZoom(0.1), L.RandomTranslation(0.1, 0.1)]
           if "aug" in flags else [])
    model = keras.Sequential([keras.Input((28, 28, 1)), *aug, *body])
    opt = keras.optimizers.Adadelta(1.0) if name == "cnn" else keras.optimizers.Adam(1e-3)
    model.compile(opt, "sparse_categorical_crossentropy", jit_compile="jit" in flags)
    model.fit(x[:batch * 4], y[:batch * 4], batch_size=batch, epochs=1, verbose=0)
    t = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    return len(x) / (time.perf_counter() - t)


def main() -> None:
    xtr, ytr, *_ = load_arrays()
    x = (xtr[:6400].reshape(-1, 28, 28, 1) / 255.0).astype("float32")
    y = ytr[:6400]
    for spec in sys.argv[1:]:
        base = throughput("cnn", x, y)
        cand = throughput(spec, x, y)
        print(f"{spec:20s} {cand:8.0f} img/s   cnn {base:7.0f} img/s   ratio {cand / base:5.2f}",
              flush=True)


if __name__ == "__main__":
    main()
