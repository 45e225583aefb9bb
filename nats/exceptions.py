"""Exceptions the command line maps to exit codes, importable without torch."""

import signal


class TrainingInterrupted(RuntimeError):
    """Training stopped on SIGTERM or SIGINT after saving a checkpoint.

    Attributes:
        signal_number: the signal that stopped the run.
    """

    def __init__(self, signal_number: int, kimg: float):
        self.signal_number = signal_number
        super().__init__(
            f"stopped by {signal.Signals(signal_number).name} at {kimg:.3f} kimg after saving a checkpoint; "
            "run the same command again to resume"
        )
