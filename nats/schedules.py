"""Annealing weights lambda_1..lambda_T of the functional-gradient steps.

The annealed weight is our reconstruction of the NATS paper's scheme (its
full text was not available). Every schedule runs from lambda_1 down to
lambda_T = rho * lambda_1 and is normalised so that the mean weight over
the T steps is 1, which keeps a step size eta tuned for CFG meaningful.

- ``constant``: every weight is 1, which is plain CFG.
- ``geometric``: lambda_t proportional to sigma_t^2 with sigma geometric
  from sigma_1 to sigma_T, the step-size rule of annealed Langevin dynamics
  (Song & Ermon 2019). That makes lambda itself geometric with ratio rho.
- ``linear``: lambda falls linearly from 1 to rho (before normalising).
- ``cosine``: lambda follows half a cosine from 1 to rho.
"""

import math

from nats.defaults import SCHEDULES


def annealing_weights(schedule: str, num_steps: int, rho: float) -> list[float]:
    """Compute the mean-normalised weights of ``num_steps`` steps.

    Args:
        schedule: one of ``constant``, ``geometric``, ``linear``, ``cosine``.
        num_steps: T, the number of functional-gradient steps.
        rho: ratio lambda_T / lambda_1, in (0, 1]. Ignored by ``constant``.

    Returns:
        T weights whose mean is 1.

    Raises:
        ValueError: for an unknown schedule, T < 1 or rho outside (0, 1].
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
    if not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    if not 0.0 < rho <= 1.0:
        raise ValueError(f"rho must lie in (0, 1], got {rho!r}")

    if schedule == "constant" or num_steps == 1:
        return [1.0] * num_steps

    positions = [t / (num_steps - 1) for t in range(num_steps)]
    if schedule == "geometric":
        raw = [rho**position for position in positions]
    elif schedule == "linear":
        raw = [1.0 - (1.0 - rho) * position for position in positions]
    else:
        raw = [rho + (1.0 - rho) * 0.5 * (1.0 + math.cos(math.pi * position)) for position in positions]

    mean = sum(raw) / num_steps
    return [weight / mean for weight in raw]
