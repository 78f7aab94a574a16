"""An example of your own model for kdigits: `kdigits cv --model examples/my_model.py:small_cnn`.

The function returns Keras layers starting with keras.Input: (784,) for flat pixels or
(28, 28, 1) for images (kdigits scales pixels to [0, 1] either way) and ending with 10
class probabilities. RECIPE is optional; command-line options override it.
"""

import keras
from keras import layers

RECIPE = {"optimizer": "adam", "learning_rate": 2e-3, "epochs": 8, "batch_size": 128,
          "schedule": "cosine"}


def small_cnn(filters: int = 32, dropout: float = 0.3) -> list:
    """Keyword defaults are layer options: `kdigits tune` can search them."""
    return [keras.Input((28, 28, 1)),
            layers.Conv2D(filters, 3, activation="relu"), layers.MaxPooling2D(2),
            layers.Conv2D(2 * filters, 3, activation="relu"), layers.MaxPooling2D(2),
            layers.Flatten(), layers.Dropout(dropout),
            layers.Dense(10, activation="softmax")]


def forest(seed: int):
    """A scikit-learn estimator works too, as a baseline (it gets kdigits' seed)."""
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier(n_estimators=100, n_jobs=-1, random_state=seed)
