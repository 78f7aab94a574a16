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


def test_peak_records_a_commands_exit_status_and_peak_memory(tmp_path) -> None:
    """bench/peak.py passes the command's exit status through and records the peak memory
    of the child: one that holds 200 MiB must be reported at 200 MiB or more."""
    out = tmp_path / "peak.json"
    hold = "import sys; block = b'x' * (200 * 2**20); sys.exit(3)"  # every page written
    done = subprocess.run([sys.executable, str(REPO / "bench" / "peak.py"), str(out), "--",
                           sys.executable, "-c", hold], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 3, done.stderr
    record = json.loads(out.read_text())
    assert record["returncode"] == 3 and record["command"][-2:] == ["-c", hold]
    assert record["peak_rss_mib"] >= 200 and record["wall_s"] >= 0
    assert "peak RSS" in done.stderr
