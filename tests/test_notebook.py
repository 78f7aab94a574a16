"""notebooks/quickstart.ipynb, executed top to bottom in a real IPython kernel.

The notebook runs as a user would run it, with its parameters cell overridden (papermill's
convention: a cell injected after the one tagged ``parameters``) so that it reads the real
sample files and writes into this test's temporary folder. The kernel is a subprocess: it
inherits this process's environment, so `away_from_home` (conftest.py) holds there too,
and PYTHONPATH makes it import this checkout's kaggle_digits.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, USER_HOME
from nbclient import NotebookClient

from kaggle_digits.submission_file import validate_submission

NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"


def outputs(cell: nbformat.NotebookNode) -> str:
    """Everything a cell showed, as one string (text, HTML, widget references)."""
    return json.dumps(cell.get("outputs", []))


@pytest.fixture(scope="module")
def executed(sample_files: dict, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "store the notebook without outputs"
    where = next(i for i, cell in enumerate(notebook.cells)
                 if "parameters" in cell.metadata.get("tags", []))
    overrides = nbformat.v4.new_code_cell(
        f"percent = 40.0\nepochs = 1\nfolds = 2\n"
        f"train_csv = {str(sample_files['train'])!r}\ntest_csv = {str(sample_files['test'])!r}\n"
        f"work = {str(work / 'out')!r}", metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(where + 1, overrides)
    notebook.cells.append(nbformat.v4.new_code_cell(  # where the kernel ran, for the checks
        "import json, os, kaggle_digits\n"
        "print(json.dumps({'package': kaggle_digits.__file__, 'home': os.environ['HOME'],"
        " 'cache': os.environ['KDIGITS_CACHE_DIR']}))"))
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
                   "PYTHONPATH": os.pathsep.join(
                       [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    client = NotebookClient(notebook, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(work)}})
    with pytest.MonkeyPatch.context() as patch:  # the kernel inherits os.environ
        for name, value in environment.items():
            patch.setenv(name, value)
        client.execute()  # raises CellExecutionError, with the traceback, on any error
    return notebook, work / "out"


def test_notebook_runs_without_errors_in_this_checkout_and_a_temporary_home(executed,
                                                                           sample_files):
    notebook, _ = executed
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors
    loaded = next(cell for cell in code if "kd.load_train(" in cell.source)
    assert str(sample_files["train"]) in outputs(loaded)  # the parameters were used
    kernel = json.loads(code[-1].outputs[0].text)
    assert Path(kernel["package"]) == REPO / "kaggle_digits" / "__init__.py"
    assert kernel["home"] == os.environ["HOME"] and Path(kernel["home"]) != USER_HOME
    assert kernel["cache"] == os.environ["KDIGITS_CACHE_DIR"]


def test_notebook_shows_caret_statistics_and_the_heatmap(executed):
    notebook, _ = executed
    shown = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    html = [o.data["text/html"] for o in shown if "text/html" in o.get("data", {})]
    tables = [h for h in html if 'class="kdigits-by-class"' in h]
    assert tables and all("Balanced Accuracy" in h and "Class: 9" in h for h in tables)
    assert any("Confusion Matrix and Statistics" in o.get("text", "") for o in shown)  # print()
    assert any(o.get("data", {}).get("image/png") for o in shown)


def test_progress_is_one_live_display_in_the_notebook(executed):
    """In Jupyter the bars are a live widget redrawn in place: the cv cell shows the plan,
    one line per fold and the widget, not a line per epoch or batch."""
    notebook, _ = executed
    cv_cell = next(cell for cell in notebook.cells if "kd.cross_validate(" in cell.source)
    text = outputs(cv_cell)
    assert WIDGET in text
    assert "fold 2/2  accuracy" in text
    assert "epoch 1/1" not in text and "training on" not in text  # the plain-line fallback
    assert len(cv_cell.outputs) <= 6


def test_notebook_writes_a_valid_scored_submission(executed, sample_files):
    _, out = executed
    checked = validate_submission(out / "submission.csv", sample_files["test"])
    assert checked.ok, checked.problems
    record = json.loads((out / "submission.json").read_text())
    assert record["score"]["rows"] == 1000  # scored against the sample's solution.csv
    assert record["command"].startswith("kaggle_digits.make_submission(")
    runs = list((out / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "report.html").is_file()
