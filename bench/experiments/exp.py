"""Scratch: train one candidate on the full 42k, score on the 28k after each epoch.

python exp.py NAME [--epochs N] [--batch B] [--lr LR] [--aug] [--bf16] [--jit] ...
Prints per-epoch seconds (training only) and held-back accuracy; appends to results/exp.jsonl.
"""

from __future__ import annotations

import argparse
import json
import time

from common import REPO, load_arrays, make_scorer

BN_MOM = 0.9


def layers_for(name: str):
    import keras
    from keras import layers as L

    def cbr(f, k, s=1, pad="same"):
        return [L.Conv2D(f, k, strides=s, padding=pad, use_bias=False),
                L.BatchNormalization(momentum=BN_MOM), L.ReLU()]

    if name == "cnn":
        return [L.Conv2D(32, 3, activation="relu"), L.Conv2D(64, 3, activation="relu"),
                L.MaxPooling2D(), L.Dropout(0.25), L.Flatten(),
                L.Dense(128, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax")]
    if name == "lenet":  # 5x5 then pool, twice: ~3.9 M MACs
        return [*cbr(32, 5, pad="valid"), L.MaxPooling2D(), *cbr(64, 5, pad="valid"),
                L.MaxPooling2D(), L.Flatten(), L.Dropout(0.3),
                L.Dense(10, activation="softmax")]
    if name == "lenet128":
        return [*cbr(32, 5, pad="valid"), L.MaxPooling2D(), *cbr(64, 5, pad="valid"),
                L.MaxPooling2D(), L.Flatten(), L.Dense(128, use_bias=False),
                L.BatchNormalization(momentum=BN_MOM), L.ReLU(), L.Dropout(0.4),
                L.Dense(10, activation="softmax")]
    if name == "fastB":  # 5x5 conv, pool, 3x3 conv, pool, dense: ~2.5 M MACs
        return [*cbr(32, 5, pad="valid"), L.MaxPooling2D(), *cbr(64, 3, pad="valid"),
                L.MaxPooling2D(), L.Flatten(), L.Dense(128, use_bias=False),
                L.BatchNormalization(momentum=BN_MOM), L.ReLU(), L.Dropout(0.4),
                L.Dense(10, activation="softmax")]
    if name == "lenet3":  # a third, cheap 3x3 stage on the 4x4 map
        return [*cbr(32, 5, pad="valid"), L.MaxPooling2D(), *cbr(64, 5, pad="valid"),
                L.MaxPooling2D(), *cbr(128, 3), L.GlobalAveragePooling2D(), L.Dropout(0.3),
                L.Dense(10, activation="softmax")]
    if name == "s2":  # stride-2 convs instead of pooling
        return [*cbr(32, 3), *cbr(32, 3, 2), *cbr(64, 3), *cbr(64, 3, 2), *cbr(128, 3, pad="valid"),
                L.GlobalAveragePooling2D(), L.Dropout(0.3), L.Dense(10, activation="softmax")]
    if name == "deotte":  # Kaggle's well-known 99.75% member
        return [*cbr(32, 3, pad="valid"), *cbr(32, 3, pad="valid"), *cbr(32, 5, 2),
                L.Dropout(0.4), *cbr(64, 3, pad="valid"), *cbr(64, 3, pad="valid"),
                *cbr(64, 5, 2), L.Dropout(0.4), *cbr(128, 4, pad="valid"), L.Flatten(),
                L.Dropout(0.4), L.Dense(10, activation="softmax")]
    if name == "mlp":
        return [L.Flatten(), L.Dense(512, activation="relu"), L.Dropout(0.2),
                L.Dense(512, activation="relu"), L.Dropout(0.2), L.Dense(10, activation="softmax")]
    if name.startswith("mlpbn"):  # mlpbn-1024
        w = int(name.split("-")[1])
        return [L.Flatten(),
                L.Dense(w, use_bias=False), L.BatchNormalization(momentum=BN_MOM), L.ReLU(),
                L.Dropout(0.3),
                L.Dense(w, use_bias=False), L.BatchNormalization(momentum=BN_MOM), L.ReLU(),
                L.Dropout(0.3), L.Dense(10, activation="softmax")]
    if name.startswith("mlpd"):  # mlpd-1024: plain relu + dropout
        w = int(name.split("-")[1])
        return [L.Flatten(), L.Dense(w, activation="relu"), L.Dropout(0.3),
                L.Dense(w, activation="relu"), L.Dropout(0.3), L.Dense(10, activation="softmax")]
    raise SystemExit(f"unknown {name}")
    keras  # noqa: B018


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("name")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--opt", default="adam")
    p.add_argument("--sched", default="cosine")  # cosine | const
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--smooth", type=float, default=0.0)
    p.add_argument("--aug", type=float, default=0.0)  # translation fraction; 0 = none
    p.add_argument("--rot", type=float, default=0.0)
    p.add_argument("--zoom", type=float, default=0.0)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--jit", action="store_true")
    p.add_argument("--spe", type=int, default=1)
    p.add_argument("--subset", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tag", default="")
    a = p.parse_args()

    import numpy as np
    import tensorflow as tf
    if a.threads:
        tf.config.threading.set_intra_op_parallelism_threads(a.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(a.seed)
    if a.bf16:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    xtr, ytr, xte, yte = load_arrays()
    if a.subset:
        xtr, ytr = xtr[: a.subset], ytr[: a.subset]
    xtr = (xtr.reshape(-1, 28, 28, 1) / 255.0).astype("float32")
    xte = (xte.reshape(-1, 28, 28, 1) / 255.0).astype("float32")

    aug = []
    if a.aug or a.rot or a.zoom:
        if a.rot:
            aug.append(L.RandomRotation(a.rot / 360, fill_mode="constant"))
        if a.zoom:
            aug.append(L.RandomZoom(a.zoom, fill_mode="constant"))
        if a.aug:
            aug.append(L.RandomTranslation(a.aug, a.aug, fill_mode="constant"))
    body = layers_for(a.name)
    if a.bf16:  # keep the softmax in float32
        body[-1] = L.Dense(10, activation="softmax", dtype="float32")
    model = keras.Sequential([keras.Input((28, 28, 1)), *aug, *body])
    steps = int(np.ceil(len(xtr) / a.batch)) * a.epochs
    if a.sched == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            0.0 if a.warmup else a.lr, steps - int(a.warmup * steps),
            warmup_target=a.lr if a.warmup else None, warmup_steps=int(a.warmup * steps))
    else:
        lr = a.lr
    opt = {"adam": lambda: keras.optimizers.Adam(lr),
           "adamw": lambda: keras.optimizers.AdamW(lr, weight_decay=5e-4),
           "adadelta": lambda: keras.optimizers.Adadelta(1.0),
           "rmsprop": lambda: keras.optimizers.RMSprop(lr),
           "sgd": lambda: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True)}[a.opt]()
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=a.smooth)
    model.compile(opt, loss, metrics=["accuracy"], jit_compile=a.jit,
                  steps_per_execution=a.spe)
    log: list = []
    t0 = time.perf_counter()
    model.fit(xtr, keras.utils.to_categorical(ytr, 10), batch_size=a.batch, epochs=a.epochs,
              verbose=0, callbacks=[make_scorer(xte, yte, log)])
    wall = time.perf_counter() - t0
    rec = {"args": vars(a), "params": model.count_params(), "log": log, "wall": wall}
    print(f"{a.name} {a.tag} params={model.count_params()} train_s={log[-1]['cum']:.1f} "
          f"final={log[-1]['acc']:.4f} best={max(r['acc'] for r in log):.4f}", flush=True)
    with open(REPO / "bench" / "results" / "exp.jsonl", "a") as fh:
        fh.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
