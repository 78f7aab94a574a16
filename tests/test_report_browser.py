"""The report as a reviewer sees it: opened offline in headless Chromium, screenshotted."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import run_kdigits

from kaggle_digits import report

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")


@pytest.fixture(scope="module")
def chromium() -> str:
    """Headless Chromium. Tests never install it: `make browser` (part of `make test`) does,
    where it can."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not installed: `make browser` installs it as root, or run "
                    "`sudo apt-get install chromium`")
    return found


@pytest.fixture(scope="module")
def report_html(sample_files, tmp_path_factory) -> Path:
    """report.html of a real 2-fold, 2-epoch MLP run on 3,000 real digits."""
    runs_dir = tmp_path_factory.mktemp("runs")
    done = run_kdigits("cv", "--model", "mlp", "--train", str(sample_files["train"]),
                       "--folds", "2", "--epochs", "2", "--runs-dir", str(runs_dir),
                       env={"TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = list(runs_dir.iterdir())
    return report.write_report(run)[0]


def chromium_run(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           *args], capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_report_renders_offline_in_headless_chromium(chromium, report_html, tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    done = chromium_run(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,4000",
                        report_html.as_uri())
    assert shot.exists(), done.stderr[-2000:]
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape == (4000, 1280, 3)
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert len(colours) > 500, "a blank or broken page has a handful of colours"
    ink = (image < 200).any(axis=2)
    assert ink[:1000].mean() > 0.02  # text and tables at the top, not a white page
    # green (correct) and red (error) cells of the embedded confusion heatmap were drawn
    r, g, b = (image[..., k].astype(int) for k in range(3))
    assert ((g - r > 60) & (g - b > 60)).sum() > 5_000
    assert ((r - g > 60) & (r - b > 60)).sum() > 500


@pytest.mark.slow
def test_rendered_page_has_the_tables(chromium, report_html, tmp_path):
    done = chromium_run(chromium, tmp_path, "--dump-dom", report_html.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    tables = re.findall(r'<table class="by-class">(.*?)</table>', dom, re.S)
    assert len(tables) == 2  # pooled OOF and holdout
    for table in tables:
        assert len(re.findall(r"<tr", table)) == 11  # header + 10 classes
    assert dom.count("Overall Statistics") >= 2
    assert len(re.findall(r'<img src="data:image/png;base64,', dom)) == 6
