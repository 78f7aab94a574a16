"""Ctrl-C while a model trains: noted at once, acted on between batches.

Python's own handler raises KeyboardInterrupt in whatever code runs when SIGINT arrives,
and two places lose it: a garbage-collection callback (JAX registers one, and Keras
imports JAX when it is installed) prints "Exception ignored in: …_xla_gc_callback" and
drops it, so training goes on and `submit` writes its files anyway; and TensorFlow's C
code, interrupted mid-import, turns it into a SystemError traceback. While
`keeping_ctrl_c` is active, a first Ctrl-C only notes the press, and the training callback
raises KeyboardInterrupt after the batch in flight (`raise_if_pressed`), where every
caller already handles it. A second Ctrl-C raises at once, for a step that never ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_pressed = threading.Event()


def _note_or_raise(signum: int, frame: FrameType | None) -> None:
    if _pressed.is_set():
        _pressed.clear()  # raised now: not again at the next batch
        raise KeyboardInterrupt
    _pressed.set()


@contextmanager
def keeping_ctrl_c() -> Iterator[None]:
    """Active only where Python's own Ctrl-C handler is (the main thread, SIGINT neither
    ignored nor taken over by a host such as a notebook kernel), and restored after."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    _pressed.clear()
    signal.signal(signal.SIGINT, _note_or_raise)
    try:
        yield
        raise_if_pressed()  # pressed after the last batch
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _pressed.clear()


def raise_if_pressed() -> None:
    """Raise the KeyboardInterrupt of a Ctrl-C noted since the last call."""
    if _pressed.is_set():
        _pressed.clear()
        raise KeyboardInterrupt
