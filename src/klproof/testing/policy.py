r"""The policy for randomised (Monte Carlo) tests, written once and followed everywhere.

A test that compares a Monte Carlo estimate with an exact value can fail by chance.
klproof's randomised tests bound that chance instead of guessing a tolerance:

1. **Seed.** Every randomised test fixes its seed (``numpy.random.default_rng(seed)``
   with a constant ``seed`` in the test), so a run is reproducible and a failure replays.
2. **Sample size.** At least :data:`MIN_SAMPLES` draws per estimate, so the sample mean
   is close to normal and the standard error estimated from the same draws is reliable
   (its relative error is about :math:`1/\sqrt{2n}`, under 1.6 %).
3. **Tolerance from the standard error.** An estimate :math:`\hat\mu` with standard error
   :math:`s` passes when :math:`|\hat\mu - \mu| \le z\,s`, with
   :math:`z = \Phi^{-1}(1 - \alpha / (2m))`: a two-sided normal quantile.
4. **Stated false-alarm rate.** :math:`\alpha` = :data:`FALSE_ALARM_RATE` = 1e-4 per test
   run, split over the :math:`m` comparisons the run makes (Bonferroni), so a correct
   implementation fails a whole run with probability at most 1e-4. For one comparison
   :math:`z = 3.89`.

5. **Where the normal approximation holds.** The estimate must see the distribution:
   a discrete ``p`` has every outcome at least :data:`MIN_EXPECTED_COUNT` times in
   expectation (otherwise the sample misses the rare outcomes, the estimated standard
   error is near 0 and the test would fail a correct estimator). Tests state such
   preconditions with ``hypothesis.assume``.

No other tolerance is allowed in a randomised test; :func:`tolerance` computes it.

Examples
--------
>>> from klproof.testing.policy import tolerance, z_value
>>> round(z_value(), 2)
3.89
>>> round(tolerance(0.01, n_comparisons=10), 4)
0.0442
"""

from __future__ import annotations

from statistics import NormalDist

__all__ = ["FALSE_ALARM_RATE", "MIN_EXPECTED_COUNT", "MIN_SAMPLES", "tolerance", "z_value"]

#: Probability that a correct implementation fails one test run.
FALSE_ALARM_RATE = 1e-4
#: Smallest number of draws behind one estimate.
MIN_SAMPLES = 2000
#: Smallest expected count of each outcome of a discrete ``p`` in the sample.
MIN_EXPECTED_COUNT = 10


def z_value(*, n_comparisons: int = 1, false_alarm_rate: float = FALSE_ALARM_RATE) -> float:
    r"""Two-sided normal quantile :math:`\Phi^{-1}(1 - \alpha/(2m))`.

    Parameters
    ----------
    n_comparisons : int
        Number :math:`m` of comparisons in the test run (Bonferroni split).
    false_alarm_rate : float
        :math:`\alpha`, the probability that a correct implementation fails the run
        (at most :data:`FALSE_ALARM_RATE`).

    Returns
    -------
    float
        The multiplier :math:`z` of the standard error.

    Raises
    ------
    ValueError
        If ``n_comparisons < 1`` or ``false_alarm_rate`` is not in ``(0, 1e-4]``.

    Examples
    --------
    >>> round(z_value(n_comparisons=100), 2)
    4.89
    """
    if not isinstance(n_comparisons, int) or n_comparisons < 1:
        raise ValueError(f"n_comparisons must be an int >= 1; got {n_comparisons!r}")
    if not 0.0 < false_alarm_rate <= FALSE_ALARM_RATE:
        raise ValueError(
            f"false_alarm_rate must be in (0, {FALSE_ALARM_RATE}]; got {false_alarm_rate!r}"
        )
    return NormalDist().inv_cdf(1.0 - false_alarm_rate / (2.0 * n_comparisons))


def tolerance(
    standard_error: float,
    *,
    n_comparisons: int = 1,
    false_alarm_rate: float = FALSE_ALARM_RATE,
) -> float:
    r"""Largest :math:`|\hat\mu - \mu|` a correct estimate reaches with probability :math:`\alpha`.

    Parameters
    ----------
    standard_error : float
        Standard error :math:`s` of the estimate (non-negative, finite).
    n_comparisons : int
        Comparisons in the test run.
    false_alarm_rate : float
        :math:`\alpha` for the whole run.

    Returns
    -------
    float
        :math:`z\,s` with :math:`z` from :func:`z_value`.

    Raises
    ------
    ValueError
        If ``standard_error`` is negative or not finite.

    Examples
    --------
    >>> round(tolerance(1.0), 3)
    3.891
    """
    se = float(standard_error)
    if not se >= 0.0 or se == float("inf"):
        raise ValueError(f"standard_error must be finite and >= 0; got {standard_error!r}")
    return se * z_value(n_comparisons=n_comparisons, false_alarm_rate=false_alarm_rate)
