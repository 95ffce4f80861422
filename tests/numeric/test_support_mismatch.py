"""KL = +inf for family pairs whose supports never nest, derived in the symbolic catalogue.

The numeric layer carries the table (it never imports SymPy); these tests rebuild it
from the derivations and check the numeric answer on drawn parameters.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import klproof
import klproof.numeric as N
from klproof.numeric._mismatch import INFINITE_PAIRS
from klproof.testing import _families as F

NUMERIC = {
    c.__name__.lower(): c
    for c in vars(N).values()
    if isinstance(c, type) and issubclass(c, N.Distribution) and c is not N.Distribution
}


def test_table_is_the_derived_set() -> None:
    from klproof.symbolic.kl.mismatch import mismatched

    derived = {k for k in mismatched() if k[0] in NUMERIC and k[1] in NUMERIC}
    listing = "\n".join(f'        ("{a}", "{b}"),' for a, b in sorted(derived))
    assert set(INFINITE_PAIRS) == derived, (
        "src/klproof/numeric/_mismatch.py is stale; the derived table is:\n" + listing
    )


def test_each_derived_pair_verifies() -> None:
    from klproof.symbolic import get

    for p, q in sorted(INFINITE_PAIRS)[:: max(1, len(INFINITE_PAIRS) // 12)]:
        report = get(f"kl/{p}/{q}").verify()
        assert report.status == "ok", (p, q, report.status)


@pytest.mark.parametrize(("p", "q"), sorted(INFINITE_PAIRS))
def test_numeric_kl_is_inf(p: str, q: str) -> None:
    src = F.RngSource(np.random.default_rng(zlib.crc32(f"{p}/{q}".encode())))
    pp = F.draw_params(p, src, 7, region="any")
    qq = F.draw_params(q, src, 7, region="any")
    if "total_count" in pp and "total_count" in qq:
        qq["total_count"] = pp["total_count"]
    out = klproof.kl_divergence(NUMERIC[p](**pp), NUMERIC[q](**qq))
    assert out.shape == (7,)
    assert out.dtype == np.float64
    assert np.all(out == np.inf)


def test_float32_and_broadcasting() -> None:
    out = klproof.kl_divergence(
        klproof.Normal(np.zeros((2, 1), np.float32), np.float32(1.0)),
        klproof.Exponential(np.ones(3, np.float32)),
    )
    assert out.shape == (2, 3)
    assert out.dtype == np.float32
    assert np.all(np.isposinf(out))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        klproof.kl_divergence(klproof.Normal(np.zeros(2), 1.0), klproof.Exponential(np.ones(3)))


def test_pairs_with_nested_supports_still_raise() -> None:
    """Normal -> Cauchy is finite (both on the line) but has no closed form here."""
    with pytest.raises(NotImplementedError, match="Normal -> Cauchy"):
        klproof.kl_divergence(klproof.Normal(0.0, 1.0), klproof.Cauchy(0.0, 1.0))
    assert ("normal", "cauchy") not in INFINITE_PAIRS
