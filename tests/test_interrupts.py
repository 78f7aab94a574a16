"""Ctrl-C during training stops it cleanly at the next batch: never lost (Python drops a
KeyboardInterrupt raised in a garbage-collection callback such as JAX's), never raised
inside TensorFlow's C code (where it becomes a SystemError traceback)."""

from __future__ import annotations

import signal
import threading

import pytest

from kaggle_digits import interrupts, train

pytestmark = pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                                reason="signal handlers belong to the main thread")


@pytest.fixture
def python_ctrl_c():
    """Python's own SIGINT handler, as in `kdigits` started from a terminal."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_is_noted_then_raised_between_batches(python_ctrl_c) -> None:
    with interrupts.keeping_ctrl_c():
        signal.raise_signal(signal.SIGINT)  # returns: nothing raised mid-step
        with pytest.raises(KeyboardInterrupt):
            interrupts.raise_if_pressed()
        interrupts.raise_if_pressed()  # once: raised, it is no longer pending
        signal.raise_signal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):  # a second press does not wait
            signal.raise_signal(signal.SIGINT)
        interrupts.raise_if_pressed()  # and is not raised twice
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_pressed_after_the_last_batch_is_raised_on_the_way_out(python_ctrl_c) -> None:
    with pytest.raises(KeyboardInterrupt), interrupts.keeping_ctrl_c():
        signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_during_a_batch_stops_training_after_it(python_ctrl_c, train_sample) -> None:
    pixels, labels = train_sample

    class CtrlCOnFirstBatch(train.Progress):
        batches = 0

        def batch_done(self, batch: int, logs: dict) -> None:
            self.batches += 1
            if self.batches == 1:
                signal.raise_signal(signal.SIGINT)

    progress = CtrlCOnFirstBatch()
    config = train.config_for("mlp", epochs=3, batch_size=100)
    with pytest.raises(KeyboardInterrupt):
        train.fit("mlp", pixels[:1000], labels[:1000], config, progress=progress)
    assert progress.batches == 1  # stopped at the next batch, not after 30 of them
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_host_that_handles_ctrl_c_itself_is_left_alone() -> None:
    def host(signum, frame) -> None: ...

    before = signal.signal(signal.SIGINT, host)
    try:
        with interrupts.keeping_ctrl_c():
            assert signal.getsignal(signal.SIGINT) is host
        assert signal.getsignal(signal.SIGINT) is host
    finally:
        signal.signal(signal.SIGINT, before)
