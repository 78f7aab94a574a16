"""The speed bench must keep running: a smoke run on a few real rows, checking the JSON it
writes, not any timing (speed is measured by `make bench`, never asserted in tests)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO


def test_train_speed_runs_each_backend_and_compares_it_with_tensorflow(tmp_path) -> None:
    """A quick run writes its report; with `--backends` each model trains once per backend
    (here TensorFlow and JAX, which `make test` installs), records where it ran, and gets
    its speed as a ratio of TF's."""
    out = tmp_path / "train_speed.json"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "train_speed.py"), "--quick",
                           "--models", "mlp", "--backends", "tensorflow,jax", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["baseline"] == "cnn"
    assert {"cpu", "cores", "tensorflow", "date"} <= set(report["machine"])
    results = report["results"]
    assert [(r["model"], r["backend"]) for r in results] == [
        ("cnn", "tensorflow"), ("mlp", "tensorflow"), ("cnn", "jax"), ("mlp", "jax")]
    for result in results:
        assert result["device"] and 0.0 < result["accuracy"] <= 1.0
        assert result["predict_images_per_s"] > 0 and result["peak_rss_mib"] > 0
        assert len(result["epochs"]) == 1
        assert ("vs_tensorflow" in result) == (result["backend"] == "jax")
        assert result["ratios"]["train_s_vs_cnn_total"] > 0  # against cnn on its own backend
    assert results[2]["backend_versions"]["jax"]
    assert results[2]["vs_tensorflow"]["train_s"] > 0
