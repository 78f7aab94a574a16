"""The tuned-parameters file: what `kdigits tune` found, in a form `cv` and `submit` take.

``best.json`` carries the model, its whole training recipe and its layer options, so a
later ``kdigits cv --params best.json`` trains exactly what the best trial trained even if
the preset's own recipe changes meanwhile; it also carries the split and data SHA-256 the
study was tuned on, because a holdout is only honest if the tuning never saw its rows.
Everything else in the file (objective, holdout statistics, study) is there for people to
read, and is ignored when the file is applied.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from kaggle_digits.errors import KdigitsError
from kaggle_digits.splits import SplitConfig
from kaggle_digits.train import TrainConfig

FORMAT = "kdigits-params/1"
# what files and runs without these keys did (a mix before groups: one plain group)
NO_MIX = {"mix_with": None, "mix_members": 0, "mix_variants": [{}]}
NO_SMOOTHING = {"label_smoothing": 0.0}  # likewise, for files and runs from before it
# TrainConfig fields a params file sets: the recipe. Not the seed (it belongs to the split
# and is a command-line choice), and not the preset (that is "model").
RECIPE_KEYS = tuple(f.name for f in fields(TrainConfig)
                    if f.name not in ("preset", "seed", "model_options"))


@dataclass(frozen=True)
class Params:
    """A params file as read back: enough to rebuild the best trial's TrainConfig."""

    path: Path
    model: str
    recipe: dict[str, Any]
    model_options: dict[str, Any] = field(default_factory=dict)
    split: dict[str, Any] | None = None
    train_sha256: str | None = None

    def overrides(self) -> dict[str, Any]:
        """Keyword arguments for `train.config_for`: the recipe and the layer options. A
        file written before recipes could mix in another model's nets, or smooth labels,
        trained none (not whatever the preset's recipe says now)."""
        return {**NO_MIX, **NO_SMOOTHING, **self.recipe,
                "model_options": dict(self.model_options)}

    def split_config(self) -> SplitConfig | None:
        return SplitConfig(**self.split) if self.split else None


def record(config: TrainConfig, **about: Any) -> dict[str, Any]:
    """The JSON a params file holds for ``config``; ``about`` adds the human-facing parts
    (objective, holdout, study, split, data)."""
    training = config.to_json()
    return {"format": FORMAT, "model": config.preset,
            "recipe": {k: training[k] for k in RECIPE_KEYS},
            "model_options": training["model_options"], **about}


def parse_options(items: list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    """``--option NAME=VALUE`` pairs: a model's layer options from the command line. VALUE
    is read as JSON (``34``, ``0.5``, ``true``), else kept as text; ``True`` and ``False``
    too, as `kdigits models` prints the defaults."""
    options: dict[str, Any] = {}
    for item in items or ():
        name, equals, value = item.partition("=")
        if not equals or not name.strip().isidentifier():
            raise KdigitsError(f"--option takes NAME=VALUE (e.g. --option elastic=34), "
                               f"not {item!r}")
        try:
            options[name.strip()] = json.loads(value)
        except ValueError:
            options[name.strip()] = {"True": True, "False": False}.get(value.strip(), value)
    return options


def load(path: str | os.PathLike[str]) -> Params:
    """Read and check a params file; every problem is one line naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KdigitsError(f"{path}: no such params file") from None
    except (OSError, ValueError) as error:
        raise KdigitsError(f"{path}: not a readable params file ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise KdigitsError(f"{path} is not a kdigits params file (no \"format\": "
                           f"\"{FORMAT}\"); `kdigits tune` writes them as best.json")
    model, recipe = data.get("model"), data.get("recipe")
    options = data.get("model_options") or {}
    if not isinstance(model, str) or not isinstance(recipe, dict) or not isinstance(options,
                                                                                    dict):
        raise KdigitsError(f"{path}: \"model\" must be a name, \"recipe\" and "
                           "\"model_options\" objects")
    unknown = sorted(set(recipe) - set(RECIPE_KEYS))
    if unknown:
        raise KdigitsError(f"{path}: unknown recipe keys {', '.join(unknown)}; known: "
                           f"{', '.join(RECIPE_KEYS)}")
    split = data.get("split")
    if split is not None:
        try:
            SplitConfig(**split)
        except TypeError as error:
            raise KdigitsError(f"{path}: \"split\" is not a split config ({error})") from None
    sha = (data.get("data") or {}).get("train_sha256")
    return Params(path, model, recipe, options, split, sha)


def load_for(path: str | os.PathLike[str] | None, model: str | None) -> Params | None:
    """The params file given with ``--params`` (None without one), refused if ``--model``
    names another model than the one it was tuned for."""
    if path is None:
        return None
    tuned = load(path)
    if model is not None and model != tuned.model:
        raise KdigitsError(f"{path} was tuned for {tuned.model}, not {model}; drop --model")
    return tuned
