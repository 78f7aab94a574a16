"""The report a reviewer opens instead of re-running anything, and the comparison of runs.

Data flows one way: a finished run folder (``config.json``, ``metrics.json``, ``oof.csv``,
``holdout.csv``, ``history.csv``) plus the train.csv it names → figures and tables →
``report.html`` (one self-contained file: CSS inline, images as data URIs, no URL
anywhere, so it opens offline and survives being mailed) and ``report.md`` with its PNGs
beside it. Statistics are read from ``metrics.json`` (written by ``kaggle_digits.stats``),
never recomputed here, so the report cannot disagree with the run.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kaggle_digits import plots
from kaggle_digits.caret_text import caret_text, format_pval, overall_rows
from kaggle_digits.constants import BY_CLASS_ROWS, PROB_COLUMNS
from kaggle_digits.errors import KdigitsError
from kaggle_digits.fileio import write_bytes, write_text
from kaggle_digits.models import PRESETS
from kaggle_digits.params import NO_MIX, RECIPE_KEYS
from kaggle_digits.runs import (
    Run,
    finished_run,
    list_runs,
    load_predictions,
    load_run,
    load_train_images,
    mean_sd,
    run_folder,
    train_path,
)
from kaggle_digits.splits import SplitConfig
from kaggle_digits.stats import (
    ConfusionStats,
    PairedComparison,
    paired_exact_mcnemar,
    stats_from_table,
)
from kaggle_digits.train import TrainConfig

# Files the report owns in the run folder; a re-run replaces them (and only them). The
# prefix keeps clear of files the run itself writes, such as curves.png, which the report
# links as it is (and draws only if it is missing).
HTML_NAME = "report.html"
MD_NAME = "report.md"
PNG_PREFIX = "report-"
CURVES_NAME = "curves.png"



@dataclass(frozen=True)
class ReportConfig:
    gallery_size: int = 24  # most confidently wrong digits shown
    top_pairs: int = 10  # most-confused (true → predicted) pairs listed
    weakest: int = 3  # classes with the lowest F1, highlighted in the by-class table


# --- reading a run ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Evaluation:
    """One set of predictions judged against the truth: pooled OOF, or the holdout."""

    key: str  # "oof" | "holdout"
    title: str
    stats: Mapping[str, Any]  # ConfusionStats.to_json()

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.stats["classes"]]

    @property
    def table(self) -> np.ndarray:
        return np.asarray(self.stats["table"], dtype=np.int64)

    @property
    def n(self) -> int:
        return int(self.table.sum())

    @property
    def by_class(self) -> Mapping[str, Mapping[str, float | None]]:
        return self.stats["by_class"]

    def weakest(self, count: int) -> list[str]:
        """Classes with the lowest F1 (ties broken by sensitivity): one number that falls
        when a class is either missed or over-predicted."""
        def key(c: str) -> tuple[float, float]:
            row = self.by_class[c]
            return (_num(row.get("f1")), _num(row.get("sensitivity")))
        return sorted(self.classes, key=key)[:count]


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def evaluations(metrics: Mapping[str, Any]) -> list[Evaluation]:
    out = []
    for key, title in (("oof", "Pooled out-of-fold"), ("holdout", "Holdout")):
        stats = metrics.get(key)
        if stats:
            out.append(Evaluation(key, title, stats))
    return out


# --- tables ---------------------------------------------------------------------------------

def confused_pairs(evaluation: Evaluation, top: int) -> list[dict[str, Any]]:
    """Off-diagonal cells of the confusion table, largest first: ``true → predicted``,
    count, and the share of that true class it takes."""
    table, classes = evaluation.table, evaluation.classes
    reference_totals = table.sum(axis=0)
    cells = [(int(table[p, r]), r, p) for p in range(len(classes)) for r in range(len(classes))
             if p != r and table[p, r] > 0]
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    return [{"true": classes[r], "predicted": classes[p], "count": count,
             "share": count / reference_totals[r] if reference_totals[r] else float("nan")}
            for count, r, p in cells[:top]]


def confident_mistakes(predictions: pd.DataFrame, top: int) -> pd.DataFrame:
    """Wrong predictions ordered by the probability the model gave its wrong answer."""
    if predictions.empty:
        return predictions.assign(probability=[])
    wrong = predictions[predictions["prediction"] != predictions["label"]].copy()
    probability_columns = list(PROB_COLUMNS)
    if wrong.empty or not set(probability_columns) <= set(wrong.columns):
        return wrong.assign(probability=np.nan).head(0)
    probabilities = wrong[probability_columns].to_numpy()
    wrong["probability"] = probabilities[np.arange(len(wrong)),
                                         wrong["prediction"].to_numpy(dtype=np.int64)]
    return wrong.sort_values(["probability", "row"], ascending=[False, True]).head(top)


def fold_table(folds: Sequence[Mapping[str, Any]]) -> tuple[list[dict], dict[str, str]]:
    """Per-fold rows and a ``mean ± sd`` line (sd with n−1; blank with a single fold)."""
    columns = ("accuracy", "kappa", "epochs", "wall_s", "user_s", "system_s")
    rows = [{"fold": f.get("fold"), **{c: f.get(c) for c in columns}} for f in folds]
    summary = {"fold": "mean ± sd"}
    for column in columns:
        mean, sd = mean_sd([_num(r[column]) for r in rows])
        if not math.isfinite(mean):
            summary[column] = ""
            continue
        digits = {"accuracy": 4, "kappa": 4, "epochs": 0}.get(column, 1)
        spread = f" ± {sd:.{digits}f}" if sd is not None else ""
        summary[column] = f"{mean:.{digits}f}{spread}"
    return rows, summary


def overall_table(stats: Mapping[str, Any]) -> list[tuple[str, str]]:
    """caret's Overall Statistics block, in caret's own number formats (the same text as
    the print-out beside it on the page)."""
    return overall_rows(_confusion(stats))


def fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    return f"{float(value):.{digits}f}"


def fmt_seconds(value: Any) -> str:
    if value is None:
        return "NA"
    seconds = float(value)
    if seconds < 90:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested config as ``a.b = value`` pairs, so every option is one readable row."""
    rows: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(flatten(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


# An option left unset on the command line took its value from here (config.json keys)
USED_FOR_OPTION = {"epochs": "training.epochs", "batch_size": "training.batch_size",
                   "learning_rate": "training.learning_rate",
                   "optimizer": "training.optimizer", "members": "training.members",
                   "tta": "training.tta", "threads": "threads_per_fold",
                   "mix": "training.mix_with"}
UNSET = {"options.params": "none", "options.name": "none", "name": "none",
         "options.mix": "none", "training.mix_with": "none",
         "threads_per_fold": "all CPU threads", "options.threads": "all CPU threads"}


def config_rows(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """config.json as the report's table: every row shows the value the run used. An
    option not given on the command line shows what it came to (``128 (recipe)``), a
    setting a scikit-learn model has no use for says so, and the folds' sizes read as
    a sentence rather than JSON."""
    flat = dict(flatten({k: v for k, v in config.items() if k != "command"}))
    keras = config.get("kind") != "sklearn"
    source = "recipe or params file" if flat.get("options.params") else "recipe"
    rows = []
    for name, value in flat.items():
        if name == "rows.folds" and isinstance(value, list):
            rows.append((name, fold_sizes(value)))
            continue
        if name == "training.model_options" and not value:
            rows.append((name, _builder_defaults(str(config.get("model")))))
            continue
        if value is None:
            option = name.removeprefix("options.")
            used = flat.get(USED_FOR_OPTION.get(option, ""))
            if name in UNSET and used is None:
                value = UNSET[name]
            elif used is not None:
                value = f"{_text(used)} ({source if option != 'threads' else 'per fold'})"
            elif not keras:  # epochs, batch size, weights, Keras backend
                value = "not used by scikit-learn models"
            else:
                value = "not given"
        elif isinstance(value, int) and ("rows" in name or name == "parameters"):
            value = f"{value:,}"
        rows.append((name, _text(value)))
    return rows


def fold_sizes(folds: Sequence[Mapping[str, Any]]) -> str:
    """``2 folds, each 945 train / 945 test rows``, or the sizes fold by fold."""
    sizes = [(int(f.get("train_rows", 0)), int(f.get("test_rows", 0))) for f in folds]
    if len(set(sizes)) == 1:
        train, test = sizes[0]
        count = f"{len(sizes)} folds, each" if len(sizes) > 1 else "1 split:"
        return f"{count} {train:,} train / {test:,} test rows"
    return "; ".join(f"fold {f.get('fold', k + 1)}: {train:,} train / {test:,} test"
                     for k, (f, (train, test)) in enumerate(zip(folds, sizes, strict=True)))


def _builder_defaults(model: str) -> str:
    preset = PRESETS.get(model)
    options = preset.options() if preset is not None else {}
    if not options:
        return "none"
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in options.items()) + " (builder defaults)"


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(v if isinstance(v, str) else json.dumps(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value) if value else "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def command_line(config: Mapping[str, Any]) -> str:
    command = config.get("command", "")
    return " ".join(command) if isinstance(command, list | tuple) else str(command)


def _confusion(stats: Mapping[str, Any]) -> ConfusionStats:
    """The stored table's statistics. ``stats_from_table`` is a pure function of the
    table, so this is the run's statistics, not a second opinion."""
    return stats_from_table(np.asarray(stats["table"], dtype=np.int64),
                            [str(c) for c in stats["classes"]])


def caret_print(stats: Mapping[str, Any]) -> str:
    """caret's own print-out of the stored table."""
    return caret_text(_confusion(stats), mode="everything")


# --- the report -------------------------------------------------------------------------------

TIMING_NAMES = {"wall_s": "training wall-clock, all folds", "user_s": "CPU user time, all folds",
                "system_s": "CPU system time, all folds", "minutes": "training minutes",
                "this_session_wall_s": "wall-clock of the last session (resumed runs: less)"}


@dataclass
class Figure:
    name: str  # file name in the run folder
    title: str
    caption: str
    png: bytes = field(repr=False)

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def build_context(run_dir: str | Path, config: ReportConfig = ReportConfig()) -> dict[str, Any]:
    """Everything the templates show, computed once; the templates only lay it out."""
    run = finished_run(run_dir)
    folder = Path(run.path)
    metrics = run.metrics
    evals = evaluations(metrics)
    figures: dict[str, Figure] = {}

    sections = []
    for evaluation in evals:
        weakest = evaluation.weakest(config.weakest)
        confusion = Figure(
            f"{PNG_PREFIX}confusion-{evaluation.key}.png",
            f"Confusion matrix — {evaluation.title.lower()}",
            "Rows are predictions, columns the true labels (caret's layout). Each cell: count, "
            "then row % | column %. Green = correct, red = errors on their own scale.",
            plots.png_bytes(plots.confusion_heatmap(
                evaluation.table, evaluation.classes,
                f"{evaluation.title} ({evaluation.n:,} digits)")))
        per_class = Figure(
            f"{PNG_PREFIX}per-class-{evaluation.key}.png",
            f"Per-class sensitivity, specificity and PPV — {evaluation.title.lower()}",
            "Note the zoomed axis: every value is close to 1.",
            plots.png_bytes(plots.per_class_chart(
                evaluation.by_class, f"Per-class statistics — {evaluation.title.lower()}")))
        figures[confusion.name] = confusion
        figures[per_class.name] = per_class
        sections.append({
            "key": evaluation.key, "title": evaluation.title, "n": evaluation.n,
            "overall": overall_table(evaluation.stats),
            "caret": caret_print(evaluation.stats),
            "measures": [label for _, label in BY_CLASS_ROWS],
            "by_class": [{"class": c, "weak": c in weakest,
                          "values": [fmt(evaluation.by_class[c].get(k)) for k, _ in
                                     BY_CLASS_ROWS]} for c in evaluation.classes],
            "weakest": weakest,
            "pairs": confused_pairs(evaluation, config.top_pairs),
            "confusion": confusion, "per_class": per_class,
        })

    history_path, run_curves = folder / "history.csv", folder / CURVES_NAME
    curves = None
    if history_path.exists():
        history = pd.read_csv(history_path)
        if not history.empty:
            # `kdigits cv` already drew these curves from the same history.csv: the report
            # links its curves.png rather than keeping a second copy of the same bytes
            png = (run_curves.read_bytes() if run_curves.exists()
                   else plots.png_bytes(plots.training_curves(history)))
            curves = Figure(CURVES_NAME, "Training curves",
                            "Solid = training, dashed = validation; one colour per fold.", png)
            figures[curves.name] = curves

    mistakes = confident_mistakes(load_predictions(folder), config.gallery_size)
    gallery, gallery_note = None, ""
    if mistakes.empty:
        gallery_note = "No wrong predictions (or no probabilities) in oof.csv / holdout.csv."
    else:
        pixels, gallery_note = load_train_images(run)
        if pixels is not None:
            rows = mistakes["row"].to_numpy(dtype=np.int64)
            where = [f"{s} fold {f} · row {r}" if s == "OOF" else f"holdout · row {r}"
                     for s, f, r in zip(mistakes["set"], mistakes["fold"], rows, strict=True)]
            gallery = Figure(
                f"{PNG_PREFIX}mistakes.png", "Most confidently wrong digits",
                "Caption: true label → predicted label, and the probability the model gave "
                "its prediction. Row = 0-based row of train.csv.",
                plots.png_bytes(plots.mistake_gallery(
                    pixels[rows], mistakes["label"].tolist(), mistakes["prediction"].tolist(),
                    mistakes["probability"].tolist(), where)))
            figures[gallery.name] = gallery

    fold_rows, fold_summary = fold_table(metrics.get("folds", []))
    timing = metrics.get("timing") or {}
    timing_rows = [(TIMING_NAMES.get(k, k), fmt_seconds(v) if k.endswith("_s") else fmt(v, 2))
                   for k, v in timing.items() if isinstance(v, int | float)]
    return {
        "run_name": folder.name,
        "run_path": str(folder),
        "generated": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "model": run.config.get("model", ""),
        "command": command_line(run.config),
        "config": config_rows(run.config),
        "sections": sections,
        "curves": curves,
        "gallery": gallery,
        "gallery_note": gallery_note,
        "mistakes": [{"set": s, "fold": f, "row": int(r), "true": int(t), "predicted": int(p),
                      "probability": f"{q:.3f}"} for s, f, r, t, p, q in zip(
                          mistakes.get("set", []), mistakes.get("fold", []),
                          mistakes.get("row", []), mistakes.get("label", []),
                          mistakes.get("prediction", []), mistakes.get("probability", []),
                          strict=True)],
        "folds": fold_rows,
        "fold_summary": fold_summary,
        "timing": timing_rows,
        "figures": figures,
        "fmt": fmt,
        "fmt_seconds": fmt_seconds,
    }


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    environment = Environment(loader=PackageLoader("kaggle_digits", "templates"),
                              autoescape=select_autoescape(["html", "html.j2"]),
                              undefined=StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)
    # Markdown has no autoescape; a "|" inside a value would split its table row
    environment.filters["cell"] = lambda value: str(value).replace("|", "\\|")
    return environment


def write_report(run_dir: str | Path,
                 config: ReportConfig = ReportConfig()) -> tuple[Path, Path]:
    """Write report.html, report.md and the report's PNGs into the run folder.

    The report is derived entirely from the run's files, so re-running replaces it
    (its own files only) rather than refusing.
    """
    context = build_context(run_dir, config)
    folder = Path(context["run_path"])
    environment = _environment()
    for figure in context["figures"].values():
        if figure.name.startswith(PNG_PREFIX) or not (folder / figure.name).exists():
            write_bytes(folder / figure.name, figure.png, force=True)
    # earlier reports kept a byte copy of curves.png under their own prefix: drop it
    (folder / f"{PNG_PREFIX}curves.png").unlink(missing_ok=True)
    html = environment.get_template("report.html.j2").render(**context)
    markdown = environment.get_template("report.md.j2").render(**context)
    html_path = write_text(folder / HTML_NAME, html, force=True)
    md_path = write_text(folder / MD_NAME, markdown, force=True)
    return html_path, md_path


# --- comparing runs -------------------------------------------------------------------------

@dataclass(frozen=True)
class RunSummary:
    """One line of ``kdigits compare``."""

    name: str  # the run folder's name
    model: str
    tag: str | None  # the user's --name for the run
    weights: int | None  # parameters of one model (None: scikit-learn)
    members: int  # seeded models averaged per fold
    settings: str  # only what differs from the preset's recipe and the default split
    folds: int
    oof_accuracy: float
    oof_accuracy_sd: float  # over folds, n−1
    holdout_accuracy: float
    kappa: float  # pooled OOF
    train_minutes: float  # wall-clock fit time summed over folds
    path: Path | None = None  # the run folder, where its predictions are read for pairing

    @property
    def details(self) -> list[str]:
        """Folds, weights and the settings that set the run apart, in a few words each:
        ``["2 folds", "407k weights", "1 epoch", "5% rows"]``."""
        parts = [f"{self.folds} fold{'s' if self.folds != 1 else ''}"]
        if self.weights is not None:
            parts.append(f"{short_count(self.weights)} weights"
                         + (f" ×{self.members}" if self.members > 1 else ""))
        return [*parts, *(self.settings.split(", ") if self.settings else [])]


def short_count(count: int) -> str:
    """185,258 → "185k", 2,435,210 → "2.4M": enough to tell models apart at a glance."""
    if count >= 1_000_000:
        return f"{count / 1e6:.1f}M"
    return f"{count / 1e3:.0f}k" if count >= 10_000 else f"{count:,}"


def changed_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """What this run did differently from its preset's recipe and the default split: the
    only settings worth a column when runs are compared. For a user's own model, whose
    recipe is in its file, the recipe options given on the command line."""
    training = {**NO_MIX, **(config.get("training") or {})}  # runs before mixes had none
    preset = PRESETS.get(str(config.get("model")))
    if preset is not None:
        recipe = {**asdict(TrainConfig(preset.name)), **asdict(preset.recipe)}
        defaults = preset.options()
        changed = {k: training[k] for k in RECIPE_KEYS if k in training
                   and training[k] != recipe[k]}
    else:
        given = config.get("options") or {}
        defaults = {}
        changed = {k: training.get(k) for k in RECIPE_KEYS if given.get(k) is not None}
        if given.get("mix") is not None:  # the option is --mix, the config's keys two
            changed.update({k: training[k] for k in NO_MIX})
    if not training.get("mix_members") or (  # no nets mixed in, or another preset's
            "mix_with" in changed and training.get("mix_variants") == [{}]):  # plain group
        changed.pop("mix_variants", None)
    groups = len(training.get("mix_variants") or [{}])
    if changed.get("mix_members") and groups > 1:  # a count per group: `best --mix cnn-fast:3`
        changed["mix_members"] = f"{groups}×{changed['mix_members']}"
    changed.update({k: v for k, v in (training.get("model_options") or {}).items()
                    if defaults.get(k, object()) != v})
    split, standard = config.get("split") or {}, asdict(SplitConfig())
    changed.update({k: split[k] for k in ("percent", "holdout", "seed")
                    if k in split and split[k] != standard[k]})
    return changed


SETTING_FORMATS = {"epochs": lambda v: f"{v} epoch{'s' if v != 1 else ''}",
                   "batch_size": "batch {}".format, "learning_rate": lambda v: f"lr {v:g}",
                   "optimizer": str, "schedule": "{} schedule".format,
                   "validation_split": lambda v: f"val. split {v:g}",
                   "members": lambda v: f"{v} seeds",
                   "early_stopping": lambda v: f"early stop {v}" if v else "no early stop",
                   "tta": lambda v: "TTA" if v else "no TTA",
                   "precision": str,
                   "label_smoothing": lambda v: f"label smoothing {v:g}",
                   "mix_with": lambda v: f"mix {v}" if v else "no mix",
                   "mix_members": lambda v: f"{v} mixed in",
                   "mix_variants": lambda v: f"{len(v)} mix group{'s' if len(v) > 1 else ''} ("
                       + " + ".join(" ".join(f"{k}={json.dumps(x)}" for k, x in g.items())
                                    or "plain" for g in v) + ")",
                   "percent": lambda v: f"{v:g}% rows",
                   "holdout": lambda v: f"holdout {v:g}", "seed": "seed {}".format}


def describe_settings(changed: Mapping[str, Any]) -> str:
    def one(key: str, value: Any) -> str:
        formatter = SETTING_FORMATS.get(key)
        if formatter is None:  # a layer option
            return f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}"
        return formatter(value)
    return ", ".join(one(k, v) for k, v in changed.items()
                     if (k != "members" or v != 1) and (k != "mix_members" or v))


def summarise_run(run: Run) -> RunSummary:
    config, metrics = run.config, run.metrics or {}
    folds = metrics.get("folds") or []
    _, accuracy_sd = mean_sd([_num(f.get("accuracy")) for f in folds])
    oof = (metrics.get("oof") or {}).get("overall", {})
    holdout = (metrics.get("holdout") or {}).get("overall", {})
    count = metrics.get("parameters") or config.get("parameters")
    members = (config.get("training") or {}).get("members") or 1
    return RunSummary(
        name=Path(run.path).name, model=str(config.get("model", "?")), tag=run.label,
        weights=int(count) if count else None, members=int(members),
        settings=describe_settings(changed_settings(config)), folds=len(folds),
        oof_accuracy=_num(oof.get("accuracy")),
        oof_accuracy_sd=float("nan") if accuracy_sd is None else accuracy_sd,
        holdout_accuracy=_num(holdout.get("accuracy")), kappa=_num(oof.get("kappa")),
        train_minutes=sum(_num(f.get("wall_s")) for f in folds) / 60, path=Path(run.path))


def compare_runs(run_dirs: Iterable[str | Path] | None = None,
                 root: str | Path = "runs", *,
                 skipped: list[str] | None = None) -> list[RunSummary]:
    """Summaries of the given runs (default: every finished run under ``root``), best OOF
    first. A run may be given by its folder or its ``--name``. With a ``skipped`` list, an
    entry that is no finished run (a shell glob also matches stray files) is left out with
    one line of explanation there, instead of failing; none left is still an error."""
    if run_dirs:
        loaded = []
        for entry in run_dirs:
            try:
                run = finished_run(run_folder(entry, root))
            except KdigitsError as error:
                if skipped is None:
                    raise
                skipped.append(f"skipped: {error}")
                continue
            if all(r.path.resolve() != run.path.resolve() for r in loaded):  # named twice
                loaded.append(run)
    else:
        loaded = [r for r in list_runs(root) if r.metrics is not None]
    if not loaded:
        where = "given" if run_dirs else f"under {root}/"
        raise KdigitsError(f"no finished runs to compare {where}: run `kdigits cv` first")
    summaries = [summarise_run(r) for r in loaded]
    return sorted(summaries, key=lambda s: (-np.nan_to_num(s.oof_accuracy, nan=-1), s.name))


def label(summary: RunSummary, summaries: Sequence[RunSummary]) -> str:
    """The run's --name, else its model; the folder name where two runs would share one."""
    def short(s: RunSummary) -> str:
        return s.tag or s.model

    shared = sum(short(s) == short(summary) for s in summaries) > 1
    return summary.name if shared else short(summary)


@dataclass(frozen=True)
class Tradeoff:
    """The most accurate run against the most accurate of the runs that trained faster:
    the price of the last step up. (Against the fastest run of all, a 1-epoch trial would
    make any real model look like a bargain.)"""

    best: RunSummary
    cheaper: RunSummary
    label_best: str
    label_cheaper: str

    @property
    def points(self) -> float:
        return (self.best.oof_accuracy - self.cheaper.oof_accuracy) * 100

    @property
    def time_ratio(self) -> float:
        return self.best.train_minutes / self.cheaper.train_minutes

    @property
    def short(self) -> str:
        return (f"{self.label_best}: {self.points:+.2f} points for {self.time_ratio:.1f}× "
                f"the training time of {self.label_cheaper}")


def weigh(summaries: Sequence[RunSummary]) -> Tradeoff | None:
    """None with fewer than two timed runs; ``cheaper`` is ``best`` when no run was faster."""
    timed = [s for s in summaries if math.isfinite(s.oof_accuracy) and s.train_minutes > 0]
    if len(timed) < 2:
        return None
    best = max(timed, key=lambda s: (s.oof_accuracy, -s.train_minutes))
    faster = [s for s in timed if s.train_minutes < best.train_minutes]
    cheaper = max(faster, key=lambda s: (s.oof_accuracy, -s.train_minutes)) if faster else best
    return Tradeoff(best, cheaper, label(best, timed), label(cheaper, timed))


def tradeoff(summaries: Sequence[RunSummary]) -> str:
    """The answer to "is the extra accuracy worth the extra time?", in one line of numbers."""
    weighed = weigh(summaries)
    if weighed is None:
        return "Need two runs with accuracy and timing to weigh accuracy against time."
    best, cheaper = weighed.best, weighed.cheaper
    if best is cheaper:
        return (f"{weighed.label_best} is both the most accurate ({best.oof_accuracy:.2%}) "
                f"and the fastest ({plots.minutes_text(best.train_minutes)} min): no "
                "trade-off to make.")
    slow_errors, fast_errors = 1 - best.oof_accuracy, 1 - cheaper.oof_accuracy
    fewer = f", {fast_errors / slow_errors:.1f}× fewer errors" if slow_errors > 0 else ""
    return (f"{weighed.short}, the most accurate of the faster runs "
            f"({cheaper.oof_accuracy:.2%} → {best.oof_accuracy:.2%} accuracy{fewer}; "
            f"{plots.minutes_text(cheaper.train_minutes)} → "
            f"{plots.minutes_text(best.train_minutes)} min).")


@dataclass(frozen=True)
class PairedRuns:
    """The most accurate run against another on the train.csv digits both scored in the
    same part (OOF rows, holdout rows): is its lead more than chance on those digits?"""

    leader: str  # labels as `compare` prints them
    other: str
    parts: dict[str, PairedComparison]  # "OOF" / "holdout" → the test on their shared digits
    note: str = ""  # why nothing could be paired


def pair_with_leader(summaries: Sequence[RunSummary]) -> list[PairedRuns]:
    """Each run against the first (the most accurate), digit by digit.

    Runs cross-validated on the same train.csv scored the same digits whenever they share
    a split (the default ``--seed``, ``--folds`` and ``--holdout`` do), so the difference
    between two accuracies can be tested on the digits themselves rather than guessed from
    two intervals that overlap. Runs on other splits are paired on the digits they have
    in common in each part; runs on another train.csv not at all. The leader is chosen by
    its OOF accuracy, so its OOF test is read after that choice; the holdout chose nothing.
    """
    runs = [s for s in summaries if s.path is not None]
    if len(runs) < 2:
        return []
    leader, others = runs[0], runs[1:]

    def train_sha(summary: RunSummary) -> str | None:
        assert summary.path is not None
        return train_path(load_run(summary.path))[1]

    def scored(summary: RunSummary) -> pd.DataFrame | None:
        """The run's predictions, or None where oof.csv or holdout.csv cannot be read."""
        assert summary.path is not None
        try:
            frame = load_predictions(summary.path)[["set", "row", "label", "prediction"]]
        except (KeyError, ValueError, OSError):  # a damaged file: say so, not a traceback
            return None
        return frame.assign(correct=frame["label"] == frame["prediction"])

    leader_sha, leader_rows = train_sha(leader), None
    pairs = []
    for other in others:
        names = label(leader, summaries), label(other, summaries)
        other_sha = train_sha(other)
        if leader_sha is None or other_sha is None:
            pairs.append(PairedRuns(*names, {}, "a run does not record its train.csv's "
                                                "SHA-256: no digits to pair"))
            continue
        if other_sha != leader_sha:
            pairs.append(PairedRuns(*names, {}, "cross-validated on another train.csv "
                                                "(SHA-256 differs): no digits to pair"))
            continue
        leader_rows = scored(leader) if leader_rows is None else leader_rows
        other_rows = scored(other)
        if leader_rows is None or other_rows is None:
            pairs.append(PairedRuns(*names, {}, "a run's oof.csv or holdout.csv cannot be "
                                                "read: no digits to pair"))
            continue
        both = leader_rows.merge(other_rows, on=["set", "row", "label"],
                                 suffixes=("_leader", "_other"))
        parts = {part: paired_exact_mcnemar(rows["correct_leader"].to_numpy(),
                                            rows["correct_other"].to_numpy())
                 for part, rows in both.groupby("set", sort=False)}
        pairs.append(PairedRuns(*names, parts, "" if parts else
                                "no train.csv digit was scored by both runs"))
    return pairs


def paired_lines(pairs: Sequence[PairedRuns]) -> list[str]:
    """The pairing in a few lines: digits, who reads which right alone, and R's p-value."""
    if not pairs:
        return []
    lines = ["Paired on the same digits (McNemar's exact test on the digits only one run "
             "reads right):"]
    for pair in pairs:
        if not pair.parts:
            lines.append(f"  {pair.leader} vs {pair.other}: {pair.note}")
            continue
        lines.append(f"  {pair.leader} vs {pair.other}")
        width = max(len(f"{test.digits:,}") for test in pair.parts.values())
        for part, test in pair.parts.items():
            p_value = format_pval([test.p_value], 4)[0]
            lines.append(f"    {part:<8}{test.digits:>{width},} digits: "
                         f"{test.right_only_first:,} right only in {pair.leader}, "
                         f"{test.right_only_second:,} only in {pair.other}, "
                         f"p {p_value if p_value.startswith('<') else '= ' + p_value}")
    return lines


def compare_plot_path(folder: str | Path, now: dt.datetime | None = None) -> Path:
    """``reports/compare-<time>.png``: a new file per call, outside the runs folder (where
    a stray PNG would break the next ``kdigits compare runs/*``), so no plot is replaced."""
    stem = f"compare-{(now or dt.datetime.now()).strftime('%Y%m%d-%H%M%S')}"
    folder = Path(folder)
    for k in range(1, 1000):
        path = folder / (f"{stem}.png" if k == 1 else f"{stem}-{k}.png")
        if not path.exists():
            return path
    raise KdigitsError(f"too many comparison plots named {stem}*.png in {folder}")


def write_compare_plot(summaries: Sequence[RunSummary], path: str | Path, *,
                       force: bool = False) -> Path:
    weighed = weigh(summaries)
    note = weighed.short if weighed and weighed.best is not weighed.cheaper else ""
    figure = plots.tradeoff_scatter([label(s, summaries) for s in summaries],
                                    [s.train_minutes for s in summaries],
                                    [s.oof_accuracy for s in summaries],
                                    [s.oof_accuracy_sd for s in summaries], note=note)
    return write_bytes(path, plots.png_bytes(figure), force=force)
