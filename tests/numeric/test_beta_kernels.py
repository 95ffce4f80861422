"""The fitted Stirling-remainder polynomials of the Beta/Dirichlet fast kernels."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from klproof.numeric import _beta_kernels as BK


def _horner(u: float, coeffs: tuple[float, ...]) -> float:
    acc = 0.0
    for c in coeffs[::-1]:
        acc = acc * u + c
    return acc


@pytest.mark.parametrize("y", [*np.linspace(8.0, 40.0, 161), 55.5, 1e2, 1e3, 1e4, 1e6])
def test_remainder_polynomials(y: float) -> None:
    """mu*(Y) = g(1/Y^2)/Y and nu*(Y) = h(1/Y^2)/Y^2 to 1e-17 absolute on Y >= 8."""
    with mp.workdps(40):
        yy = mp.mpf(y)
        mu = mp.loggamma(yy) - (yy - 0.5) * mp.log(yy) + yy - mp.log(2 * mp.pi) / 2
        nu = mp.log(yy) - 1 / (2 * yy) - mp.digamma(yy)
    u = 1.0 / (y * y)
    assert abs(_horner(u, BK.MU_COEF) / y - float(mu)) <= 1e-17 + 2e-16 * float(mu)
    assert abs(_horner(u, BK.NU_COEF) * u - float(nu)) <= 1e-17 + 2e-16 * float(nu)
