"""Errors a training run can end with."""


class TrainingDiverged(RuntimeError):
    """Training produced a non-finite loss or crossed a method's failure signal."""
