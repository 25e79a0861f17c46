"""Exponential backoff with jitter, shared by MQTT reconnects and webhook retries."""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["backoff_delay"]


def backoff_delay(
    failures: int, first: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after the ``failures``-th failure in a row (>= 1).

    ``first * 2**(failures - 1)``, at most ``cap``, drawn from the upper half of that (the
    jitter keeps many clients that failed together from retrying together).

    Example:
        >>> [backoff_delay(n, 1.0, 10.0, rng=lambda: 1.0) for n in range(1, 6)]
        [1.0, 2.0, 4.0, 8.0, 10.0]
    """
    ceiling = min(cap, first * 2.0 ** min(max(failures, 1) - 1, 60))
    return ceiling * (0.5 + 0.5 * rng())
