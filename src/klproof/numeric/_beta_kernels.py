r"""Lean block kernels for KL(Beta || Beta), KL(Beta || Uniform), KL(Dirichlet || Dirichlet).

All three are the Dirichlet divergence of concentration vectors :math:`x` (of ``p``)
and :math:`y` (of ``q``) with :math:`K` components (:math:`K = 2` for Beta;
Beta -> Uniform is :math:`\log(h - l) + \mathrm{KL}(\mathrm{Beta}(a, b)\,\|\,
\mathrm{Beta}(1, 1))`, so :math:`y = (1, 1)` there). With :math:`x_0 = \sum_i x_i`,
:math:`y_0 = \sum_i y_i`, Stirling's remainders

.. math:: \mu(x) = \log\Gamma(x) - (x - \tfrac12)\log x + x - \tfrac12\log 2\pi,
   \qquad \nu(x) = \log x - \tfrac{1}{2x} - \psi(x),

the ratios :math:`r_i = y_i/x_i`, :math:`r_0 = y_0/x_0`,
:math:`\tau_i = \log(r_i/r_0)`, :math:`k(\tau) = \tau + (\tau - 1)\,\mathrm{expm1}(\tau)`
(formed as :math:`\rho\log\rho - (\rho - 1)` with :math:`\rho = r_i/r_0 = e^{\tau_i}`,
see below) and :math:`\phi(r) = r - 1 - \log r`, the closed form of Penny (2001) is exactly

.. math:: \mathrm{KL} = \underbrace{r_0 \sum_i x_i\, k(\tau_i)}_{y_0\,\mathrm{KL}(\hat y\|\hat x)}
   + \tfrac12\Big[\sum_i \phi(r_i) - \phi(r_0)\Big]
   + \sum_i \big[\mu(y_i) - \mu(x_i)\big] - \big[\mu(y_0) - \mu(x_0)\big]
   + \sum_i (y_i - x_i)\,\nu(x_i) - (y_0 - x_0)\,\nu(x_0)

(the rearrangement of ``kl._k_dirichlet_far``; every term is O(1)-conditioned: no
:math:`x \log x`-sized terms are formed). This module evaluates it with few NumPy
passes, which on a cache-sized block is what the time is:

* the :math:`2K + 2` arguments of :math:`\mu` (:math:`x_1 \dots x_K, x_0, y_1 \dots
  y_K, y_0`) are rows of one ``(2K + 2, m)`` block, so each pass is one NumPy call for
  all of them (with :math:`y = (1, 1)` the :math:`y` rows are constants and dropped);
* :math:`\mu` and :math:`\nu` use the recurrence
  :math:`\Gamma(x + 8) = \Gamma(x) P(x)`, :math:`P(x) = \prod_{j<8}(x + j)`, below 8 and
  the remainders at :math:`Y = x + 8 s \ge 8`, :math:`s = [x < 8]`, as in
  :func:`~klproof.numeric._special.mu_nu_fast` (but with the 6-term polynomials
  ``MU_COEF``, ``NU_COEF`` in :math:`1/Y^2`, max absolute error 4.3e-18 and 6.4e-18,
  instead of 8 and 9 terms of the asymptotic series; and with the shift taken
  branch-free, ``8 s`` as the boolean ``x < 8``, viewed as uint8, times 8: two passes
  of 0.05 and 0.18 ns/elt (0.25 for the boolean itself, cast to float), where
  ``copysign(4, 8 - x) + 4`` took three and NumPy's ``copysign`` alone 0.5, not
  vectorised):

  .. math:: \mu(x) = \mu^*(Y) + (x - \tfrac12)\log(Y/x) + s\,\big[\log(Y^8/P(x)) - 8\big],

  but the :math:`2K + 2` logarithms :math:`s\,[\log(Y^8/P) - 8]` are summed (with the
  signs above) as **one** logarithm of the product of the factors
  :math:`F = (Y/e)^8/P(x)` (:math:`F = 1` where :math:`s = 0`): each factor lies in
  :math:`(5.5\cdot 10^{-3}, 1.12/x]` (:math:`F` decreases in :math:`x`), so for
  :math:`K \le 64` (``MAX_K``) and :math:`x \ge 10^{-3}` the products of the
  :math:`K + 1` factors of either sign (within :math:`10^{\pm 200}`) neither overflow nor
  underflow, and the logarithm of their quotient carries the same absolute error (the
  sum of the factors' relative errors) as the sum of separate logarithms would; the
  quotient itself can overflow only where many components sit near 8 on one side and
  near :math:`10^{-3}` on the other (e.g. :math:`K = 64`, every :math:`x_i = 7.9`,
  :math:`y_i = 10^{-3}`, up to :math:`10^{345}`): such a value is :math:`\pm\infty` and
  is flagged (below), where before :math:`+\infty` was kept. :math:`F` is formed on
  every row without :math:`s`, as its reciprocal :math:`G = 1/F = (e^2 u)^4 P(x)`
  from :math:`u = 1/Y^2` (formed for :math:`\mu^*` anyway),
  :math:`P = z(z + 6)(z + 10)(z + 12)`, :math:`z = x(x + 7)`, and then blended as
  :math:`G s + (1 - s)`, which is exact (:math:`G s` is :math:`G` or 0, :math:`1 - s`
  is 0 or 1; :math:`s` enters as the factor :math:`c_8 \cdot e^2/8` of :math:`e^2 u`,
  exactly :math:`e^2` or 0, and :math:`1 - s` is added as the negated boolean viewed as
  uint8: two passes fewer than forming :math:`s`, :math:`Gs` and :math:`1 - s`, 51.5 ->
  50.0 ns per Beta row in the fast blocks, the same values to the bit: see
  ``_gamma_kernels._shift_g_into``); the logarithm is taken of the quotient with the
  sides swapped. That is
  11 passes for :math:`G`, where the factors :math:`x + js` with :math:`s`-scaled
  constants (which made :math:`F = 1` where :math:`s = 0` by equal roundings) took 18
  and the numerator :math:`((x + 8)/e)^8` over :math:`P` 14 (Beta 66.3 -> 63.4,
  Dirichlet K = 4 26.5 -> 25.4 ns/elt with the numerator, with the range test on the
  least component and the larger sum only; the fast blocks alone then
  58.5 -> 55.8 ns per Beta row and 24.3 -> 23.4 per Dirichlet element with :math:`G`),
  3 for the blend (one multiplication by :math:`c_8 e^2/8`, a negation of the boolean,
  one mixed add; 4 before), and 2 fewer for :math:`sH`. :math:`G`'s rounding error is a few
  ulp, as :math:`F`'s was (:math:`1/Y`, its square, the constant :math:`e^2` and two
  squarings: at most ~12 ulp, against ~16 for :math:`((x + 8)/e)^8/P` with three);
* the terms :math:`(x - \tfrac12)\log(Y/x)` of the :math:`\mu` rows and the terms
  :math:`-\log(Y/x)` of :math:`\nu` (below) are gathered per pair :math:`(x_i, y_i)`
  and :math:`(x_0, y_0)`: the row of :math:`x_i` carries
  :math:`-(x_i - \tfrac12) - (y_i - x_i) = -(y_i - \tfrac12)` times
  :math:`\log(Y_{x_i}/x_i)`, the row of :math:`y_i` carries :math:`+(y_i - \tfrac12)`
  times :math:`\log(Y_{y_i}/y_i)` (and the opposite signs for the sums), so their sum is

  .. math:: \sum_i (y_i - \tfrac12)\log R_i - (y_0 - \tfrac12)\log R_0,
     \qquad R = \frac{Y_y\,x}{y\,Y_x},

  :math:`K + 1` logarithms instead of :math:`2K + 2`. :math:`R` is formed with three roundings (exactly 1 where
  neither argument is shifted: both products are :math:`xy`), so :math:`\log R` carries
  an absolute error of at most :math:`3.5\,\epsilon + \epsilon|\log R|`
  (:math:`\epsilon = 2^{-53}`), with
  :math:`|\log R| \le |\log(Y_x/x)| + |\log(Y_y/y)|`; times :math:`|y - \tfrac12|`, that
  is no more than the two separate logarithms' :math:`\epsilon|\log(Y/x)|` times the
  same coefficient :math:`|y - \tfrac12|` (formed before as the two parts
  :math:`x - \tfrac12` and :math:`y - x`, each at least as large). With
  :math:`y = (1, 1)` only the :math:`x` side is formed, :math:`\log(Y/x)` weighted by
  :math:`-\tfrac12` and :math:`K - \tfrac12`, the constant :math:`y` rows keeping their
  whole :math:`\mu`;
* :math:`\nu` enters as :math:`\tilde\nu(x) = \nu(x) + \tfrac{1}{2x} = \log x - \psi(x)`:
  as :math:`(y - x)/(2x) = (r - 1)/2`, the :math:`\nu` terms become
  :math:`\sum_i (y_i - x_i)\tilde\nu(x_i) - (y_0 - x_0)\tilde\nu(x_0)
  - \tfrac12[\sum_i (r_i - 1) - (r_0 - 1)]`, whose last part cancels the
  :math:`r - 1` parts of the :math:`\phi` terms exactly, so the sum formed is

  .. math:: \mathrm{KL} = r_0 \sum_i x_i\, k(\tau_i)
     - \tfrac12\Big[\sum_i \log r_i - \log r_0\Big]
     + (\mu\ \text{terms})
     + \sum_i (y_i - x_i)\,\tilde\nu(x_i) - (y_0 - x_0)\,\tilde\nu(x_0),

  with :math:`\tilde\nu(x) = (\tfrac12 + h(u)/Y)/Y + s\,H(x) - \log(Y/x)`
  (:math:`\nu^*(Y) = u\,h(u)`; the last term in the pair logarithms above),
  :math:`H(x) = \sum_{j<8} 1/(x+j) = (2x + 7)\sum_c 1/(z + c)`, :math:`z = x(x+7)`,
  :math:`c \in \{0, 6, 10, 12\}` (the same :math:`z + c` give
  :math:`P = z(z+6)(z+10)(z+12)`), formed for the :math:`K + 1` rows of :math:`x` only.
  Before, :math:`\nu = \nu^*(Y) + s\,[H(x) - \tfrac12(1/x - 1/Y)] - \log(Y/x)` needed
  :math:`1/x` and three more passes, and :math:`r_i, r_0` were terms of the sum. The
  error is the same: :math:`(y - x)\tilde\nu(x)` carries a few ulp of
  :math:`|y - x|/x = |r - 1|` below 8, as :math:`(y - x)\nu(x)` and
  :math:`\tfrac12(r - 1)` did together (measured on rows whose dominant component moves
  by up to :math:`e^{\pm 3}`, K = 2, 4, 8, 600 rows each: worst kept 6.3e-14, 1.6e-13,
  5.0e-14 both ways; Beta 72.7 -> 71.0, Dirichlet K = 4 26.7 -> 25.8 ns/elt);
* :math:`\log r_i` is :math:`\tau_i + \log r_0` (no extra log);
* the lead term's :math:`k(\tau_i) = \rho\log\rho - (\rho - 1)`,
  :math:`\rho = r_i/r_0`, :math:`\log\rho = \tau_i`, without ``expm1`` (1.0 ns/elt, the
  costliest ufunc of the kernel). The error is that of the ``expm1`` form: the derivative in
  :math:`\rho` is :math:`\log\rho = \tau`, so the roundings of :math:`\rho` enter
  times :math:`|\tau|` (as through :math:`\tau` before, :math:`k'(\tau) = \tau e^\tau`);
  :math:`\rho - 1` is exact on :math:`[\tfrac12, 2]` (Sterbenz), where the two parts
  cancel to :math:`k \approx \tau^2/2`, and the product and the difference add an ulp
  of :math:`\rho|\tau|` and of :math:`k`: a few ulp of :math:`\rho|\tau|` in all, as
  before a few ulp of :math:`|\tau| e^\tau`.

Accuracy. The fast value is kept where every concentration lies in
:math:`[10^{-3}, 10^{4}]` and the value is at least a threshold (0.02 for
:math:`K \le 4`, :math:`\max(0.05, 6\cdot 10^{-3}(K + 2))` above; see below). There each term above is
formed to an absolute error of a few 1e-15 (also on the diagonal: nothing divides by
the step :math:`y - x`): the lead term to :math:`r_0 x_i |k'(\tau_i)|` times the few-ulp error of
:math:`\tau_i` (relative accuracy where :math:`\tau_i \to 0`), the :math:`\log r` terms
to a few ulp of :math:`|\log r|`, :math:`\mu` to a few ulp of
:math:`\max(1, |\log x|)` and :math:`\nu` to a few ulp of :math:`1/x` below 8 (the
recurrence), to a few ulp of the value above (the series); so the result is accurate
to ~1e-13 relative (measured against 40-digit mpmath: absolute error below 6e-15 for
KL < 1 with concentrations in [0.05, 20], near the diagonal and off it; relative
error below 1.2e-13 for every kept value on [1e-3, 1e4], 2000-row samples far,
near, same-mean and around the shift at 8). The threshold: that absolute error does
not grow as the KL shrinks (no term divides by it), so the relative error of a kept
value is at most the absolute bound over the threshold. For :math:`K \le 4` the worst
absolute error measured among values in [0.02, 0.05) is 6.8e-15 (1000-row samples
each: Beta and Dirichlet K = 4, near the diagonal, far from it, concentrations in
[1e-3, 1e4] and the bench's [0.05, 20]; worst relative 3.3e-13), so 0.02 keeps
<= 3.4e-13 with a 3x margin to 1e-12 and halves the flagged rows. Re-measured with
the pass reductions above (60-digit mpmath, K = 2 and 4, 1500-row samples in eight
regions: generic, the bench's, around 8, KL 0.02 to 0.1 with concentrations in
[1e-3, 1e4], [0.05, 20], [1e-3, 1], [5, 1e4], mixed sizes): among kept values below
0.05 the worst absolute error is 6.3e-15 and the worst relative 2.0e-13 (the code
before them: 9.4e-15 and 4.5e-13 on the same rows, K = 4). With more
components there are :math:`3K + 3` terms of the few-1e-15 kind, so the absolute
error grows with :math:`K`: measured against 60-digit mpmath (rows of KL 0.02 to 0.4,
concentrations log-uniform in [1e-3, 1e4], [0.05, 20], [0.5, 50], [1e-3, 1], [8, 1e4],
dense and sparse moves; ~600 kept rows per K) the worst absolute error is 6.7e-15 at
K = 5, 1.6e-14 at 16, 3.0e-14 at 32 and 8.1e-14 at 64, i.e. at most
:math:`1.35\cdot 10^{-15} K`. We take the bound :math:`E(K) = 2\cdot 10^{-15}(K + 2)`
(1.5x above every measurement) and, for :math:`K > 4`, the threshold
:math:`\max(0.05,\ 3 E(K)/10^{-12}) = \max(0.05,\ 6\cdot 10^{-3}(K + 2))`
(``_kl_min``): a kept value then has a relative error of at most
:math:`E(K)/\text{threshold} \le 3.3\cdot 10^{-13}`, 3x below 1e-12 (0.05 up to K = 6,
0.108 at 16, 0.204 at 32, 0.396 at 64). With 0.05 at every K a kept K = 64 value
could reach :math:`8\cdot 10^{-14}/0.05 = 1.6\cdot 10^{-12}` (measured 1.1e-12
for a KL of 0.03-0.05 with the threshold lowered to 0.02, 6.5e-13 just above 0.05).
One term breaks the "few 1e-15" bound: :math:`\sum_i (y_i - x_i)\nu(x_i) - (y_0 - x_0)
\nu(x_0)` where one component dominates and moves far (e.g. (0.00117, 4.92) against
(0.00116, 581): two terms of ~9 cancel to a KL of 0.145), since below 8 the recurrence
gives :math:`\nu(x)` to a few ulp of :math:`1/x`, i.e. :math:`|y_i - x_i|` times that.
Measured, the error is about :math:`3\cdot 10^{-15}|r_0 - 1|` (2.6e-12 relative there
before); so a value is kept only where also :math:`|r_0 - 1| \le 64\,\mathrm{KL}`
(``_NU_GUARD``; at most ~2e-13), and the others go to :func:`split_small`, which forms
that difference as an integral (worst 2.2e-13 over 2100 such rows, KL 0.02 to 3).
With the threshold at 0.02 and this guard, 0.6 % of the bench's Beta rows are flagged
(1.4 % before).
Every other element — a KL below the threshold,
a concentration outside the range, NaN — is only *flagged* in its block; the flagged
elements are gathered over the whole batch and recomputed in a few large calls: rows
with every :math:`|y_i/x_i - 1| < 1/4` and concentrations in range by :func:`_near`
(the near-diagonal quadrature of ``kl._k_dirichlet`` step for step, with faster
polygamma functions and without its nested quadrature: :func:`_g_diff`), all others
by the careful kernel passed in (``kl._k_dirichlet``), so accuracy there is that of
``kl._k_dirichlet`` — which hands
rows with concentrations at most 1 beside a larger one (where the rearranged forms
cancel the large component's Stirling terms to a few 1e-15 absolute, up to 5e-11
relative for a KL of 6e-5 before) to :func:`split_small`, an exact split without that
cancellation.

References
----------
W. D. Penny, "KL-divergences of Normal, Gamma, Dirichlet and Wishart densities",
Technical report, Wellcome Department of Cognitive Neurology, 2001.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from klproof.numeric import _dd as DD
from klproof.numeric import _dirichlet_wide as DW
from klproof.numeric import _gamma_kernels as G
from klproof.numeric import _special as S

F64 = NDArray[np.float64]
FArr = NDArray[np.floating[Any]]
Careful = Callable[..., F64]

#: fast-form range of the concentrations and least KL kept (see the module docstring)
_LO, _HI, _KL_MIN = 1e-3, 1e4, 0.05
#: range of p's concentrations for :func:`_near` (its Dekker products need no rescaling)
NEAR_LO, NEAR_HI = _LO, _HI
#: least KL kept for K <= _KL_MIN_K components (module docstring, "Accuracy")
_KL_MIN_SMALL_K, _KL_MIN_K = 0.02, 4
#: E(K) = _ABS_ERR_PER_K (K + 2): bound on the fast form's absolute error (see _kl_min)
_ABS_ERR_PER_K = 2e-15
#: most components for the fast form (the product of the F factors stays in range)
MAX_K = 64
#: elements of a block's (2K + 2)-row stack (rows per block: this over 2K + 2, within
#: [_MIN_ROWS, _MAX_ROWS]): each NumPy call costs ~0.35 us however short its arrays, and a
#: block makes ~110 of them, so long blocks pay; 65536 (Beta: 10922 rows) measured 75
#: against 80 ns/elt at 4096 rows, Dirichlet K = 4 (6553 rows) 26.5 against 27; larger
#: blocks gained nothing (the ~20 stacks then outgrow the caches)
_STACK = 65536
_MIN_ROWS, _MAX_ROWS = 1024, 16384
#: rows per call of the near-diagonal quadrature: 1024 measured 2.9 against 5.0 us per
#: Beta row at 256 (fewer calls); its (nodes, rows, K) arrays are ~128 KB each. Where
#: malloc hands out fresh pages for such arrays (its mmap threshold, 128 KB until a larger
#: block is freed), 512 rows are faster (2.2 against 2.6 us/row), once it reuses them
#: (as after the fast blocks) 4096 (1.7 against 1.8): 1024 between. Small batches take
#: fewer (:func:`_careful_sizes`)
_NEAR_ROWS = 1024
#: step classes of the near-diagonal quadrature (its node counts 3, 5, 6, 8: see _near;
#: one node fewer per class measured 25.3 against 26.5 ms on the bench's flagged Beta rows,
#: but up to 6e-14 relative error from the quadrature against 2e-15: not worth it)
_NEAR_REL = np.array([1e-3, 0.03, 0.1])
#: flagged elements recomputed per careful call (fewer for small batches: _careful_sizes)
_FIX_ROWS = 8192
#: peak extra memory, as shares of a float64 output of the batch: the block buffers take
#: at most _BLOCK_SHARE of it (:func:`_rows`) and the careful calls at most ~0.1
#: (:func:`_careful_sizes`), so that with the output the peak stays below 1.5 times it
_BLOCK_SHARE = 0.36
#: batch elements per flagged row of a careful call and per row of a near-diagonal chunk
#: (measured peaks, K = 2 and 4: split_small ~0.6-1.6 KB per row, the near quadrature
#: ~1.8-5.3 KB per chunk row; so a flush of n / 1024 rows, all far, takes <= 0.2 KB per
#: batch element, i.e. <= 0.02 of the output per KB, and a chunk of n / 4096 rows <= 0.02)
_FIX_PER, _NEAR_PER = 1024, 4096
#: peak bytes of the near quadrature per unit of ``near_rows`` (a chunk has
#: ``2 near_rows / K`` rows of ~1.4 K KB each: see near_into)
_NEAR_BYTES = 2800

#: Stirling's remainders on Y >= 8 as polynomials in u = 1/Y^2:
#: mu*(Y) = g(u)/Y and nu*(Y) = u h(u), g and h interpolating Y mu(Y) and Y^2 nu(Y) at the
#: 6 Chebyshev nodes of [0, 1/64] (mpmath, 50 digits). Max absolute error on Y >= 8:
#: 4.3e-18 (mu) and 6.4e-18 (nu), where the asymptotic series needs 8 and 9 terms for
#: 1e-16 (checked in tests/numeric/test_beta_kernels.py).
MU_COEF = (
    0.0833333333333333,
    -0.002777777777606244,
    0.0007936506649488252,
    -0.0005952025951802712,
    0.0008372834512071336,
    -0.0016526004455595122,
)
NU_COEF = (
    0.08333333333333287,
    -0.008333333331168558,
    0.003968252342841619,
    -0.004166217650696842,
    0.007519088230747095,
    -0.017711160415846534,
)


#: a 0-d float64 array: a ufunc takes it faster than a Python float
_c = G._c


#: MU_COEF over its leading coefficient (monic: one Horner pass fewer), which the mu rows'
#: weights carry instead (_Work.wg)
MU_LEAD = MU_COEF[-1]
MU_MONIC = tuple(v / MU_LEAD for v in MU_COEF[:-1])
_MU_M = tuple(_c(v) for v in MU_MONIC)
_NU_C = tuple(_c(v) for v in NU_COEF)
_HALF, _ONE, _EIGHT = _c(0.5), _c(1.0), _c(8.0)
_C175 = _c(1.75)
_TWO, _THREE, _C7W = _c(2.0), _c(3.0), _c(7.0)
_C3W, _C11W = _c(3.0), _c(11.0)
#: the constants c of the pairs (x + j)(x + 7 - j) = x (x + 7) + c, c = 0 aside
_PAIR_C = (_c(6.0), _c(10.0), _c(12.0))
_LO_C, _HI_C, _INF = _c(_LO), _c(_HI), _c(math.inf)
#: fast values kept only where |r_0 - 1| <= _NU_GUARD KL (module docstring, "Accuracy")
_NU_GUARD = _c(64.0)


def _rows(k: int, with_q: bool, n: int) -> int:
    """Rows per block for ``K = k`` components and ``n`` rows in all (see _STACK).

    Also at most the rows whose block buffers (:meth:`_Work.row_bytes` each) take
    ``_BLOCK_SHARE`` of a float64 output of ``n`` elements (not below 256 rows), so the
    buffers and the careful calls together stay below half the output. Before (the cap
    ``n // (32 nr)``, ``nr`` stacked arguments) the buffers alone took half, and the peak
    with the output was 1.80 times the output for Beta and 1.93 for Beta -> Uniform at
    N = 1e6. The cap binds only for small ``n`` (below ~3e6 Beta pairs; Dirichlet K = 4 at
    N = 1e7 elements: 5825 rows against 6553 from _STACK, measured as fast).
    """
    nr = 2 * (k + 1) if with_q else k + 1
    cap = int(_BLOCK_SHARE * 8 * n / _Work.row_bytes(k, with_q))
    rows = min(max(_MIN_ROWS, min(_MAX_ROWS, _STACK // nr)), max(256, cap))
    return max(1, min(n, rows))


class _NearRows:
    """Rows per near-diagonal chunk, ``normal`` or ``big``.

    ``big`` while :func:`_driver` has released its block buffers (near mode): the larger
    chunks take their bytes.
    """

    def __init__(self, normal: int, work: _Work) -> None:
        self.normal = self.rows = normal
        self.big = min(_NEAR_ROWS, normal + work.nbytes() // _NEAR_BYTES)


def _careful_sizes(n: int) -> tuple[int, int]:
    """Flagged rows per careful call and rows per near-diagonal chunk for ``n`` in all."""
    fix = min(_FIX_ROWS, max(256, n // _FIX_PER))
    return fix, min(_NEAR_ROWS, max(64, n // _NEAR_PER))


def _kl_min(k: int) -> float:
    """Least fast value kept for ``k`` components (module docstring, "Accuracy").

    ``max(0.05, 3 E(K) / 1e-12)`` for ``K > 4``, with the written bound
    ``E(K) = 2e-15 (K + 2)`` on the fast form's absolute error.
    """
    if k <= _KL_MIN_K:
        return _KL_MIN_SMALL_K
    return max(_KL_MIN, 3.0 * _ABS_ERR_PER_K * (k + 2) / 1e-12)


#: ``sum(c_k u**k)`` into ``out`` (coefficients from degree 0 upwards)
_horner_into = S.horner_into


#: ``u**d + sum(c_k u**k)`` into ``out`` (one Horner pass fewer than _horner_into)
_monic_into = G._monic_into


def _mu_one(x: float) -> float:
    """Stirling's remainder of a scalar (for the constant rows of Beta -> Uniform)."""
    return math.lgamma(x) - (x - 0.5) * math.log(x) + x - 0.5 * math.log(2.0 * math.pi)


class _Work:
    """The block buffers of one call, allocated once.

    Rows of ``z`` (the arguments of mu): with ``q``, ``[y_0, x_1 .. x_K, x_0, y_1 .. y_K]``
    (so that the mu weights are -1 on the first ``K + 1`` rows and +1 on the rest, and
    the x rows ``x_1 .. x_K, x_0`` are contiguous); without (``y = 1``),
    ``[x_1 .. x_K, x_0]``. ``g`` stacks every term of the sum, summed by one product
    with the weights ``wg``: mu rows, ``tau_i, log r_0``, ``c nu~`` rows,
    the lead terms, the log of the product of the F factors and the pair logarithms
    (module docstring).
    """

    @staticmethod
    def layout(k: int, with_q: bool) -> dict[str, tuple[tuple[int, ...], type]]:
        """The buffers by name: leading shape (a block's rows follow) and dtype."""
        nx = k + 1
        nr = 2 * nx if with_q else nx
        ng = nr + 3 * nx + k + 1
        f, b = np.float64, np.bool_
        return {
            "z": ((nr,), f),
            "full": ((9, nr), f),
            "small": ((nr,), b),
            "xs": ((3, nx), f),
            "vec": ((3,), f),
            "ok": ((2,), b),
            "g": ((ng,), f),
            "r": ((nx,), f),
        }

    @staticmethod
    def row_bytes(k: int, with_q: bool) -> int:
        """Bytes of the buffers per row of a block (:meth:`layout`)."""
        return sum(
            math.prod(lead) * np.dtype(dt).itemsize for lead, dt in _Work.layout(k, with_q).values()
        )

    def __init__(self, k: int, with_q: bool, rows: int) -> None:
        self.k, self.with_q, self.rows = k, with_q, rows
        nx = k + 1
        self.xo = 1 if with_q else 0
        nr = 2 * nx if with_q else nx
        self.nr = nr
        self.nden = self.xo + k  # mu weight -1
        self.live = False
        self.acquire()
        # mu rows: mu*(Y) / MU_LEAD (monic polynomial), so their weights are -+MU_LEAD
        wg = [-MU_LEAD] * self.nden + [MU_LEAD] * (nr - self.nden)
        wg += [-0.5] * k + [-0.5 * (k - 1)]  # tau_i, log r_0
        wg += [1.0] * nx + [1.0] * k + [1.0]  # c nu~, lead, log prod F
        # the pair logarithms: (y_i - 1/2) log R_i, -(y_0 - 1/2) log R_0; without q only
        # the x side, log(Y/x) with the weights -(y_i - 1/2) = -1/2, y_0 - 1/2 = K - 1/2
        wg += [1.0] * k + [-1.0] if with_q else [-0.5] * k + [k - 0.5]
        self.wg = np.asarray(wg)
        # the constant: for q = Beta(1, 1) the constant mu rows sum_i mu(1) - mu(K)
        # (whole: their log(Y/y) parts included)
        const = 0.0 if with_q else k * _mu_one(1.0) - _mu_one(float(k))
        self.const = _c(const)
        self.kk = _c(float(k))
        self.kl_min = _c(_kl_min(k))

    def acquire(self) -> None:
        """Allocate the block buffers (again, after :meth:`release`)."""
        if self.live:
            return
        bufs: dict[str, NDArray[Any]] = {
            name: np.empty((*lead, self.rows), dtype=dt)
            for name, (lead, dt) in self.layout(self.k, self.with_q).items()
        }
        self.z, self.full, self.xs, self.vec, self.g, self.r = (
            bufs[name] for name in ("z", "full", "xs", "vec", "g", "r")
        )
        self.small, self.ok = bufs["small"], bufs["ok"]
        self.live = True

    def release(self) -> None:
        """Drop the block buffers while no fast block runs (:func:`_driver`'s near mode)."""
        empty = np.empty((0, 0))
        self.z = self.full = self.xs = self.vec = self.g = self.r = empty
        self.small = self.ok = np.empty((0, 0), dtype=bool)
        self.live = False

    def nbytes(self) -> int:
        """Bytes of the block buffers."""
        return self.row_bytes(self.k, self.with_q) * self.rows


def _fast(work: _Work, m: int, dest: F64 | None = None) -> tuple[F64, NDArray[np.bool_]]:
    """Fast KL of the ``m`` rows loaded in ``work.z`` (``x_i``, ``y_i`` rows; sums formed here).

    Returns the values (in ``dest`` if given: a contiguous float64 slice of the output,
    which saves a copy per block) and the mask of the rows whose value is kept (module
    docstring).
    """
    add, sub, mul, div, log = np.add, np.subtract, np.multiply, np.divide, np.log
    k, nr, xo = work.k, work.nr, work.xo
    nx = k + 1
    z = work.z[:, :m]
    g = work.g[:, :m]
    c8, yy, inv, u, t, t2, zp, aa, bb = (a[:, :m] for a in work.full)
    pp = yy  # P(x) overwrites Y once Y is no longer needed (see below)
    mu = g[:nr]
    tau = g[nr : nr + nx]
    nuc = g[nr + nx : nr + 2 * nx]
    lead = g[nr + 2 * nx : nr + 2 * nx + k]
    lf = g[nr + 2 * nx + k]
    pl = g[nr + 2 * nx + k + 1 :]
    r = work.r[:, :m]
    xr = z[xo : xo + nx]  # x_1 .. x_K, x_0
    S.fold_rows_into(add, z[xo : xo + k], xr[k])
    if work.with_q:
        yi = z[k + 2 : 2 * k + 2]
        S.fold_rows_into(add, yi, z[0])
        div(yi, xr[:k], r[:k])
        div(z[0], xr[k], r[k])
    else:
        div(_ONE, xr[:k], r[:k])
        div(work.kk, xr[k], r[k])

    # -- elementary part: lead r0 sum_i x_i k(tau_i), k = rho log rho - (rho - 1) with
    # rho = r_i / r0 = exp(tau_i); phi terms through the r and tau rows
    rho = t[:k]
    div(r[:k], r[k], rho)
    log(rho, tau[:k])
    log(r[k], tau[k])
    mul(rho, tau[:k], lead)
    sub(rho, _ONE, rho)
    sub(lead, rho, lead)
    mul(lead, xr[:k], lead)
    mul(lead, r[k], lead)

    # -- mu rows: Y = x + c8, c8 = 8 [x < 8] (the boolean as uint8 times 8: no branch)
    sb = work.small[:, :m]
    G.shift_into(z, sb, c8, yy, inv, u)
    _monic_into(u, _MU_M, mu)
    mul(mu, inv, mu)  # mu*(Y) / MU_LEAD; its (x - 1/2) log(Y/x): the pair logarithms
    # -- pair logarithms: log R, R = (Y_y x) / (y Y_x) (exactly 1 where neither shifts)
    if work.with_q:
        mul(yy[k + 2 :], z[1 : k + 1], pl[:k])
        mul(yy[0], z[k + 1], pl[k])
        mul(z[k + 2 :], yy[1 : k + 1], t[:k])
        mul(z[0], yy[k + 1], t[k])
        div(pl, t[:nx], pl)
        log(pl, pl)
        sub(z[k + 2 :], _HALF, t[:k])
        sub(z[0], _HALF, t[k])
        mul(pl, t[:nx], pl)  # (y - 1/2) log R
    else:
        div(yy, z, pl)
        log(pl, pl)  # log(Y / x), weighted in wg
    # G = 1/F = s (e^2 u)^4 P(x) + (1 - s), P = z (z + 6)(z + 10)(z + 12), z = x (x + 7),
    # on every row without s; the blend is exact, so G is 1 exactly where s = 0 (module
    # docstring; Y's buffer takes P)
    G._shift_g_into(z, u, c8, sb, (zp, aa, bb, pp, t), t2)
    v0, v1 = work.vec[0, :m], work.vec[1, :m]
    S.fold_rows_into(mul, t2[: work.nden], v0)  # 1/F on the -1 rows: F on the +1
    S.fold_rows_into(mul, t2[work.nden :], v1)
    div(v0, v1, v0)
    log(v0, lf)

    # -- nu~ = nu + 1/(2x) over the x rows: nu*(Y) + 1/(2Y) + s H(x) (its -log(Y/x): pair
    # logs), nu*(Y) + 1/(2Y) = (1/2 + h(u)/Y)/Y
    sl = slice(xo, xo + nx)
    nu, h, h2 = work.xs[0, :, :m], work.xs[1, :, :m], work.xs[2, :, :m]
    ux, c8x, zpx, invx = u[sl], c8[sl], zp[sl], inv[sl]
    _horner_into(ux, _NU_C, nu)
    mul(nu, invx, nu)
    add(nu, _HALF, nu)
    mul(nu, invx, nu)
    # s H = c8 (x/2 + 7/4) N / P with N = (z + 3) B + (z + 11) A
    add(zpx, _C3W, h)
    mul(h, bb[sl], h)
    add(zpx, _C11W, h2)
    mul(h2, aa[sl], h2)
    add(h, h2, h)
    mul(xr, _HALF, h2)
    add(h2, _C175, h2)
    mul(h2, c8x, h2)
    mul(h, h2, h)
    div(h, pp[sl], h)
    add(nu, h, nu)
    # coefficients y_i - x_i and x_0 - y_0
    if work.with_q:
        sub(yi, xr[:k], h[:k])
        sub(xr[k], z[0], h[k])
    else:
        sub(_ONE, xr[:k], h[:k])
        sub(xr[k], work.kk, h[k])
    mul(nu, h, nuc)

    total = work.vec[2, :m] if dest is None else dest
    np.dot(work.wg, g, total)
    if not work.with_q:  # the constant is 0 with q
        add(total, work.const, total)

    # -- rows kept: KL >= kl_min, concentrations in range (NaN fails all)
    ok, ok2 = work.ok[0, :m], work.ok[1, :m]
    np.greater_equal(total, work.kl_min, ok)
    # +inf: the quotient of the two F products overflowed (module docstring)
    np.less(total, _INF, ok2)
    np.logical_and(ok, ok2, ok)
    # (y_i - x_i) nu(x_i) - (y_0 - x_0) nu(x_0) cancels where one component dominates and
    # moves far: an error of ~3e-15 |r_0 - 1| (nu's few ulp of 1/x times |y - x|)
    sub(r[k], _ONE, v0)
    np.abs(v0, v0)
    mul(total, _NU_GUARD, v1)
    np.less_equal(v0, v1, ok2)
    np.logical_and(ok, ok2, ok)
    # range: the least component and the larger sum (sums of positive components lie
    # between them; a negative or NaN component fails the first test, NaN sums the second)
    if work.with_q:
        np.minimum.reduce(xr[:k], 0, out=v0)
        np.minimum.reduce(yi, 0, out=v1)
        np.minimum(v0, v1, out=v0)
        np.maximum(xr[k], z[0], out=v1)
    else:
        np.minimum.reduce(xr[:k], 0, out=v0)
        v1 = xr[k]
    np.greater_equal(v0, _LO_C, ok2)
    np.logical_and(ok, ok2, ok)
    np.less_equal(v1, _HI_C, ok2)
    np.logical_and(ok, ok2, ok)
    return total, ok


# -- near the diagonal: the quadrature of kl._k_dirichlet with faster polygamma -------------

_BERN = S._BERNOULLI


#: psi'(Y) = 1/Y + 1/(2Y^2) + p_1(u)/Y^3 and psi''(Y) = -1/Y^2 - 1/Y^3 - p_2(u)/Y^4 on
#: Y >= 8, u = 1/Y^2: p_1, p_2 interpolate at the 7 Chebyshev nodes of [0, 1/64]
#: (mpmath, 50 digits). Their errors relative to psi'(Y) and psi''(Y): at most 2.0e-18
#: and 2.7e-17 (checked in tests/numeric/test_beta_kernels.py), where the asymptotic
#: series needs 10 Bernoulli terms at 10.
TRI_COEF = (
    0.16666666666666655,
    -0.03333333333249287,
    0.023809522943893217,
    -0.03333299706371194,
    0.07569481310235808,
    -0.24699740954161503,
    0.8586880107331692,
)
TET_COEF = (
    0.49999999999999784,
    -0.16666666665297122,
    0.16666665255178495,
    -0.2999945096226191,
    0.8323061916997969,
    -3.1899520741098644,
    12.39239775181495,
)
_TRI_C = tuple(_c(v) for v in TRI_COEF)
#: elements per pass of _psi12: longer arrays are done in chunks, whose ~15 temporaries
#: (32 KB each) stay in cache and below malloc's mmap threshold (128 KB: larger
#: temporaries are fresh pages each time, which cost ~3x the arithmetic: measured 8.5
#: ns/elt at 8192 elements, 30 at 16384, 42 at 40000)
_TET_C = tuple(_c(v) for v in TET_COEF)
_PSI_CHUNK = 8192


def _psi12(x: F64, want2: bool = True) -> tuple[F64, F64 | None]:
    r"""Trigamma :math:`\psi'(x)` and tetragamma :math:`\psi''(x)`, ``0 < x <= 1e150``.

    The recurrence below 8 and the polynomials ``TRI_COEF``, ``TET_COEF`` at
    :math:`Y = x + 8s \ge 8`, :math:`s = [x < 8]` (branch-free, as in :func:`_fast`):

    .. math:: \psi'(x) = \psi'(Y) + s\sum_{j<8}\frac{1}{(x+j)^2}, \qquad
       \psi''(x) = \psi''(Y) - 2s\sum_{j<8}\frac{1}{(x+j)^3},

    the sums by the pairs :math:`a = x + j`, :math:`b = x + 7 - j`, with
    :math:`ab = z + c`, :math:`z = x(x + 7)`, :math:`c \in \{0, 6, 10, 12\}`,
    :math:`a + b = S = 2x + 7`:

    .. math:: \frac{1}{a^2} + \frac{1}{b^2} = \frac{S^2 - 2ab}{(ab)^2}, \qquad
       \frac{1}{a^3} + \frac{1}{b^3} = \frac{S(S^2 - 3ab)}{(ab)^3},

    so :math:`\sum_j (x+j)^{-2} = S^2 \sum_c r_c^2 - 2\sum_c r_c` and
    :math:`\sum_j (x+j)^{-3} = S(S^2 \sum_c r_c^3 - 3\sum_c r_c^2)`,
    :math:`r_c = 1/(z + c)`: four divisions instead of eight (this was a loop of ten
    passes per term with the shift to 10, and 10 Bernoulli terms). Accuracy: every
    term of each sum is positive, so the sums carry a few ulp; the differences cancel
    at most one bit (:math:`S^2 - 2ab = a^2 + b^2 \ge S^2/2`) and two bits
    (:math:`S^2 - 3ab \ge S^2/4`, as :math:`ab \le S^2/4`); the remainders' parts are
    all of one sign (no cancellation). So both are accurate to a few ulp relative
    (against 40-digit mpmath on [1e-4, 1e4]: at most 7.8e-16 and 1.6e-15, where the
    loop had 8.9e-16 for both; tests/numeric/test_beta_kernels.py). With the chunks
    (``_PSI_CHUNK``) 9.7 against 35 ns/elt (trigamma) and 15 against 49 (both) on
    16384 elements. ``z`` overflows above 1e154 (``S^2`` times 0
    would be NaN), hence the domain.
    """
    n = x.size
    if n > _PSI_CHUNK:
        flat = x.reshape(-1)
        o1 = np.empty(n)
        o2 = np.empty(n) if want2 else None
        for lo in range(0, n, _PSI_CHUNK):
            a, b = _psi12(flat[lo : lo + _PSI_CHUNK], want2)
            o1[lo : lo + a.size] = a
            if o2 is not None and b is not None:
                o2[lo : lo + b.size] = b
        return o1.reshape(x.shape), None if o2 is None else o2.reshape(x.shape)
    mul, add, sub, div = np.multiply, np.add, np.subtract, np.divide
    sb = np.less(x, _EIGHT)
    y = mul(sb, _EIGHT)
    add(y, x, y)
    inv = div(_ONE, y)
    u = mul(inv, inv)
    t1 = _horner_into(u, _TRI_C, np.empty_like(x))
    mul(t1, inv, t1)
    add(t1, _HALF, t1)
    mul(t1, u, t1)
    add(t1, inv, t1)  # psi'(Y)
    z = add(x, _C7W)
    mul(z, x, z)
    s_ = mul(x, _TWO)
    add(s_, _C7W, s_)
    r = div(_ONE, z)
    acc1 = r.copy()
    acc2 = mul(r, r)
    acc3 = mul(acc2, r) if want2 else None
    w = np.empty_like(x)
    for c in _PAIR_C:
        add(z, c, w)
        div(_ONE, w, r)
        add(acc1, r, acc1)
        mul(r, r, w)
        add(acc2, w, acc2)
        if acc3 is not None:
            mul(w, r, w)
            add(acc3, w, acc3)
    s2 = mul(s_, s_)
    mul(sb, s2, w)  # s S^2
    sum2 = mul(w, acc2)
    mul(acc1, _TWO, acc1)
    mul(acc1, sb, acc1)
    sub(sum2, acc1, sum2)
    add(t1, sum2, t1)
    t2 = None
    if acc3 is not None:
        mul(w, acc3, acc3)  # s S^2 sum r^3
        mul(acc2, _THREE, acc2)
        mul(acc2, sb, acc2)
        sub(acc3, acc2, acc3)
        mul(acc3, s_, acc3)
        mul(acc3, _TWO, acc3)  # 2 s sum (x + j)^-3
        t2 = _horner_into(u, _TET_C, np.empty_like(x))
        mul(t2, u, t2)
        add(t2, inv, t2)
        add(t2, _ONE, t2)
        mul(t2, u, t2)  # -psi''(Y)
        add(t2, acc3, t2)
        np.negative(t2, t2)
    return t1, t2


def _u(x: F64) -> F64:
    """:func:`~klproof.numeric._special.trigamma_excess` with :func:`_psi12`."""
    big = x >= 20.0
    if not big.any():
        return np.asarray(x * (x * _psi12(x, False)[0]) - x, np.float64)
    out = np.empty_like(x)
    xb = x[big]
    inv2 = 1.0 / (xb * xb)
    out[big] = 0.5 + S._horner(inv2, _BERN[:8]) / xb
    xs = x[~big]
    out[~big] = xs * (xs * _psi12(xs, False)[0]) - xs
    return out


#: p_1 of TRI_COEF with 8 terms (7 Chebyshev nodes interpolate psi' to 2e-18, but the
#: divided differences of _g_diff see the derivative of the interpolation error, largest
#: at Y = 8: 5.6e-15 relative with 7 terms, 6.7e-16 with these 8; mpmath, 50 digits):
#: the same interpolant as ``_gamma_kernels.MU2_COEF`` (Y^3 mu''(Y) = Y^3 psi'(Y) - Y^2
#: - Y/2 = p_1)
GD_COEF = G.MU2_COEF
_GD_C = tuple(_c(v) for v in GD_COEF)
_J_C = tuple((_c(float(j)), _c(float(j * j))) for j in range(1, 8))


def _g_diff(a: F64, s: F64) -> F64:
    r"""Return :math:`G(a) - G(a + s)`, :math:`G(x) = x\,\psi'(x)`, for ``a, s > 0``.

    :math:`G` decreases, so the value is positive; it is formed to a few ulp relative
    however small ``s`` is (``a + s`` is rounded, ``s`` is used exactly). With
    :math:`b = a + s` and the shift :math:`c = 8\,[a < 8]` taken for **both**
    arguments (by :math:`a` alone: no mixed case), :math:`Y_a = a + c`,
    :math:`Y_b = b + c`, :math:`p = 1/Y_a`, :math:`q = 1/Y_b`, the recurrence
    :math:`\psi'(x) = \psi'(x + 8) + \sum_{j<8}(x + j)^{-2}` gives
    :math:`G(x) = (x/Y)\,G^*(Y) + [a < 8]\,x\sum_j (x+j)^{-2}` with
    :math:`G^*(Y) = Y\psi'(Y) = 1 + p/2 + f(p^2)`, :math:`f(t) = t\,p_1(t)`
    (``GD_COEF``). Then exactly

    .. math:: \frac{G(a) - G(b)}{s} = pq\Big[a p\big(\tfrac12 + (p + q)\,[u, v]f\big)
       - c\,G^*(Y_b)\Big] + [a < 8]\sum_{j<8}\frac{ab - j^2}{((a + j)(b + j))^2},

    using :math:`p - q = s\,pq`, :math:`u - v = (p - q)(p + q)` (:math:`u = p^2`,
    :math:`v = q^2`), :math:`a/Y_a - b/Y_b = -c\,s\,pq` and
    :math:`a(b+j)^2 - b(a+j)^2 = s\,(ab - j^2)`: no difference of nearby values is
    formed. The divided difference :math:`[u, v]f = p_1(v) + u\,[u, v]p_1` comes from
    one Horner pass pair (:math:`d \leftarrow d\,u + h`, :math:`h \leftarrow h\,v + c_k`,
    ending with :math:`h = p_1(v)`, :math:`d = [u, v]p_1`); :math:`f' > 0` on
    :math:`[0, 1/64]`, so every factor of the first part is positive where :math:`a \ge
    8`. Below 8 the three parts have mixed signs: the terms with :math:`j^2 > ab` and
    :math:`-c\,G^*(Y_b)` against :math:`1/(ab)` and the rest, which cancel at most a
    factor ~8 (measured 3.3e-15 worst).

    This replaces the nested quadrature of ``kl._k_dirichlet``'s
    ``trigamma_excess_diff`` (:math:`\int V'` with 3 to 8 nodes of trigamma and
    tetragamma per point where :math:`s < a/4`, the difference of :math:`V` elsewhere):
    one evaluation per point, ~16 ns. Against 60-digit mpmath (4800 points, :math:`a`
    in [1e-4, 3e4], :math:`s/a` in [1e-12, 1e5], and around 8): at most 3.3e-15
    relative (median 2e-16), none negative.
    """
    n = a.size
    if n > _PSI_CHUNK:
        out = np.empty(n)
        fa, fs = a.reshape(-1), s.reshape(-1)
        for lo in range(0, n, _PSI_CHUNK):
            out[lo : lo + _PSI_CHUNK] = _g_diff(fa[lo : lo + _PSI_CHUNK], fs[lo : lo + _PSI_CHUNK])
        return out.reshape(a.shape)
    mul, add, sub, div = np.multiply, np.add, np.subtract, np.divide
    sb = np.less(a, _EIGHT)
    c = mul(sb, _EIGHT)
    b = add(a, s)
    p = add(a, c)
    div(_ONE, p, p)
    q = add(b, c)
    div(_ONE, q, q)
    u = mul(p, p)
    v = mul(q, q)
    h = np.full_like(a, GD_COEF[-1])
    d = h.copy()
    mul(h, v, h)
    add(h, _GD_C[-2], h)
    for ck in _GD_C[-3::-1]:
        mul(d, u, d)
        add(d, h, d)
        mul(h, v, h)
        add(h, ck, h)
    mul(d, u, d)
    add(d, h, d)  # [u, v] f
    pq = add(p, q)
    mul(d, pq, d)
    add(d, _HALF, d)
    mul(d, a, d)
    mul(d, p, d)
    gb = mul(q, h)  # G*(Y_b) = 1 + q (1/2 + q p_1(v))
    add(gb, _HALF, gb)
    mul(gb, q, gb)
    add(gb, _ONE, gb)
    mul(gb, c, gb)
    sub(d, gb, d)
    mul(d, p, d)
    mul(d, q, d)
    e = mul(a, b)
    sig = add(a, b)
    acc = div(_ONE, e)  # j = 0
    w = np.empty_like(a)
    t = np.empty_like(a)
    for jj, j2 in _J_C:
        mul(sig, jj, w)
        add(w, e, w)
        add(w, j2, w)  # (a + j)(b + j)
        mul(w, w, w)
        sub(e, j2, t)
        div(t, w, t)
        add(acc, t, acc)
    mul(acc, sb, acc)
    add(d, acc, d)
    mul(d, s, d)
    return d


def _det2(a: F64, b: F64, c: F64, d: F64) -> F64:
    """``a d - b c`` to a few ulp for arguments in [1e-3, 1e4] (Dekker products)."""
    h1, l1 = S.two_prod(a, d)
    h2, l2 = S.two_prod(b, c)
    return np.asarray((h1 - h2) + (l1 - l2), dtype=np.float64)


def dd_sum(v: F64) -> tuple[F64, F64]:
    r"""Sums over the last axis as double-doubles ``(hi, lo)``, ``hi = fl(hi + lo)``.

    Pairwise: each level adds neighbours by TwoSum and carries the rounding errors in
    ``lo`` (plain sums, whose own errors are :math:`\epsilon` times those errors), so
    ``hi + lo`` is the sum to about :math:`\epsilon^2 \log_2 K \sum |v_i|`; ``log2 K``
    levels of NumPy calls whatever ``K``.
    """
    hi = np.asarray(v, dtype=np.float64)
    lo = np.zeros_like(hi)
    while hi.shape[-1] > 1:
        if hi.shape[-1] % 2:
            pad = np.zeros((*hi.shape[:-1], 1))
            hi, lo = np.concatenate([hi, pad], -1), np.concatenate([lo, pad], -1)
        hi, e = DD.two_sum(hi[..., 0::2], hi[..., 1::2])
        lo = lo[..., 0::2] + lo[..., 1::2] + e
    return DD.two_sum(hi[..., 0], lo[..., 0])


def moves(x: F64, dx: F64, det2: Callable[[F64, F64, F64, F64], F64]) -> F64:
    r"""Return :math:`m_i = \sum_j (y_i x_j - x_i y_j)` of rows ``(n, K)`` in O(K).

    With :math:`\delta = y - x` **exact** (the near-diagonal rows: every
    :math:`|\delta_i/x_i| < 1/4`, so Sterbenz's lemma applies),
    :math:`m_i = y_i x_0 - x_i y_0 = \delta_i x_0 - x_i \delta_0`. The sums
    :math:`x_0`, :math:`\delta_0` are double-doubles (:func:`dd_sum`), the determinant
    of their leading parts is formed by ``det2`` (error-free products), their trailing
    parts (:math:`\epsilon` times smaller) enter in plain arithmetic: so :math:`m_i`
    carries a few ulp of itself plus :math:`\sim\epsilon^2 (|\delta_i| x_0 + x_i
    \sum_j |\delta_j|)`, where the sum of the :math:`K` determinants
    :math:`y_i x_j - x_i y_j` it replaces (``K`` passes over ``(n, K)``: O(K\ :sup:`2`)
    per row) carried :math:`(K - 1)\,\epsilon\,x_i \sum_j x_j |y_j/x_j - y_i/x_i|`.
    """
    x0, x0l = dd_sum(x)
    d0, d0l = dd_sum(dx)
    m = det2(dx, x, d0[:, None], x0[:, None])
    m += dx * x0l[:, None] - x * d0l[:, None]
    return m


def _near(x: F64, y: F64) -> F64:
    r"""KL of rows with every ``|y_i/x_i - 1| < 1/4``, concentrations in [1e-3, 1e4].

    The near-diagonal branch of ``kl._k_dirichlet`` (the Bregman integral of the Fisher
    information along the segment, Gauss–Legendre, with the integrand as a sum of
    non-negative terms), step for step, with the polygamma functions of
    :func:`_psi12`, but for its terms :math:`\sum_i (U_i - U_0)\rho_i^2 + U_0 \sum_i
    (1 - w_i)\rho_i^2` (:math:`U(a) = a^2\psi'(a) - a`, :math:`w_i = a_i/a_0`,
    :math:`\rho_i = \delta_i/a_i`): as :math:`U_i - w_i U_0 = a_i[G(a_i) - G(a_0)]`,
    :math:`G(a) = a\psi'(a)`, they are :math:`\sum_i a_i \rho_i^2\,[G(a_i) - G(a_0)]`,
    each non-negative and formed to a few ulp by :func:`_g_diff` (where there the
    differences of :math:`U` took a nested quadrature of trigamma and tetragamma
    wherever :math:`a_0 - a_i < a_i/4`: 1.7 -> 0.9 us per flagged row of the bench's
    Beta sample, with the sums over the short last axis unrolled; against 60-digit
    mpmath 8.9e-16 worst where the nested quadrature had 4.3e-15, K = 2, 3, 4, 8, steps
    1e-12 to 1/4). In this range the determinants need no rescaling (the Dekker
    products stay far from overflow).
    """
    dx = y - x
    rel = float(np.max(np.abs(dx / x)))
    nodes, weights = S.gauss_legendre_01(
        3 if rel <= 1e-3 else 5 if rel <= 0.03 else 6 if rel <= 0.1 else 8
    )  # as kl._nodes_for, and 6 up to 0.1: (4/rel)**(-2n) = 40**-12 < 2e-19
    kk = x.shape[-1]
    if kk == 2:
        # m_1 = d_1 x_2 - x_1 d_2 = -m_2 (the sums cancel): one determinant, where moves'
        # double-double sums took 15 % of the near rows' time (3.7 of 24.4 ms on the
        # bench's 44518 flagged Beta rows)
        m = np.empty_like(x)
        m[:, 0] = _det2(dx[:, 0], x[:, 0], dx[:, 1], x[:, 1])
        np.negative(m[:, 0], m[:, 1])
    else:
        m = moves(x, dx, _det2)
    tt = nodes[:, None, None]
    at = x[None] + tt * dx[None]  # (nodes, rows, K)
    if kk == 2:
        a0 = at[..., 0] + at[..., 1]
        others = at[..., ::-1].copy()  # the other component, exactly
    else:
        # the sum of the other components as the double-double a_0 less a_i: a_0's hi
        # less a_i is exact where a_i >= hi/2 (Sterbenz) and else at least hi/2, so
        # with lo added each is correct to ~1 ulp (the components here lie in [1e-3,
        # 1.25e4], so every such sum is >= 1e-3, far above the ~eps^2 K 1e4 error of
        # a_0's double-double), in O(K) instead of K sums of K - 1 components
        a0, a0l = dd_sum(at)
        others = (a0[..., None] - at) + a0l[..., None]
    rho = dx[None] / at
    dev = (m[None] / at) / a0[..., None]
    # main: sum_i (a_i + U_0 w_i) dev_i^2 = (1 + U_0/a_0) sum_i a_i dev_i^2, w_i = a_i/a_0,
    # and 1 + U_0/a_0 = G(a_0) (no U, whose x psi'(x) x - x cancels for large x);
    # extra: sum_i (U_i - U_0) rho_i^2 + U_0 sum_i (1 - w_i) rho_i^2 = sum_i rho_i^2
    # (U_i - w_i U_0) = sum_i a_i rho_i^2 [G(a_i) - G(a_0)], U(a) = a^2 psi'(a) - a,
    # G(a) = a psi'(a)
    gd = _g_diff(at.reshape(-1), others.reshape(-1)).reshape(at.shape)
    f0 = _psi12(a0.reshape(-1), False)[0].reshape(a0.shape)
    f0 *= a0
    dev *= dev
    dev *= at
    dev *= f0[..., None]
    gd *= dx[None]
    gd *= rho
    gd += dev
    if kk > 16:
        total = gd.sum(-1)
    else:
        total = gd[..., 0].copy()
        for i in range(1, kk):  # (a sum over a short last axis is slow in NumPy)
            total += gd[..., i]
    total *= (weights * (1.0 - nodes))[:, None]
    return np.asarray(total.sum(0), np.float64)


# -- small concentrations beside larger ones: split off exactly ----------------------------


def _gl_nodes(rel: float) -> int:
    """Gauss–Legendre nodes for a step ``rel`` relative to the nearest singularity.

    As ``kl._nodes_for``: the error decays like ``(4/rel)**(-2n)``.
    """
    return 3 if rel <= 1e-3 else 5 if rel <= 0.03 else 8


def _t_nodes(rel: float) -> int:
    r"""Gauss–Legendre nodes for :func:`split_small`'s integrals over ``t`` in [0, 1].

    The integrands are analytic but for the singularity at :math:`t = -1/\mathrm{rel}`
    (:math:`X_t = 0` or :math:`Y_t = 0`), i.e. at :math:`-1 - 2/\mathrm{rel}` on the
    interval mapped to :math:`[-1, 1]`: the error of :math:`n` nodes decays like
    :math:`\rho^{-2n}`, :math:`\rho = a + \sqrt{a^2 - 1}`, :math:`a = 1 + 2/\mathrm{rel}`
    (the Bernstein ellipse through the singularity). 3 nodes for ``rel <= 0.005``
    (:math:`\rho^{-6} < 4 \cdot 10^{-18}`), 4 up to 0.03 (:math:`10^{-17}`), 5 up to 0.1
    (:math:`6 \cdot 10^{-17}`), 7 up to 1/4 (:math:`3 \cdot 10^{-18}`); relative to the
    integrals, which are at most a few times the KL.
    """
    return 3 if rel <= 0.005 else 4 if rel <= 0.03 else 5 if rel <= 0.1 else 7


def _bregman_lgamma1p(x: F64, y: F64) -> F64:
    r"""Return the Bregman divergence of :math:`g = \log\Gamma(1 + \cdot)` for ``0 < x, y <= 1``.

    :math:`D_g(y\,\|\,x) = g(y) - g(x) - (y - x)\,g'(x) \ge 0`. Where
    :math:`|y - x| \le (1 + x)/4` as
    :math:`(y - x)^2 \int_0^1 (1 - t)\,\psi'(1 + x + t(y - x))\,dt` by Gauss–Legendre
    (positive integrand: relative accuracy however close ``y`` is to ``x``); elsewhere
    as the difference (then :math:`D_g \ge 0.02` against an absolute error ~1e-17).
    """
    out = np.empty_like(x)
    d = y - x
    rel = np.abs(d) / (1.0 + x)
    close = rel <= 0.25
    if close.any():
        xc, dc = x[close], d[close]
        nodes, weights = S.gauss_legendre_01(_gl_nodes(float(rel[close].max())))
        pts = 1.0 + xc[None, :] + nodes[:, None] * dc[None, :]
        vals = _psi12(pts.reshape(-1), False)[0].reshape(pts.shape)
        out[close] = dc * dc * ((weights * (1.0 - nodes)) @ vals)
    if not close.all():
        sp = S.scipy_special()
        xf, yf = x[~close], y[~close]
        out[~close] = sp.gammaln(1.0 + yf) - sp.gammaln(1.0 + xf) - (yf - xf) * sp.digamma(1.0 + xf)
    return out


def _kl_masked(x: F64, y: F64, wb: F64, xb: F64, yb: F64) -> F64:
    """KL of the Dirichlet of the components with ``wb = 1`` (``xb``, ``yb``: their sums)."""
    m, k = x.shape
    xm = np.where(wb > 0, x, 1.0)
    ym = np.where(wb > 0, y, 1.0)
    rb = yb / xb
    tau = np.log((ym / xm) / rb[:, None])
    lead = (np.expm1(tau) * (tau - 1.0) + tau) * xm * rb[:, None]
    phi_i = S.rm1mlog(ym.reshape(-1), xm.reshape(-1))[0].reshape(m, k)
    mu_i = S.stirling_mu(ym.reshape(-1)) - S.stirling_mu(xm.reshape(-1))
    nu_i = (ym - xm).reshape(-1) * S.digamma_nu(xm.reshape(-1))
    per = lead + 0.5 * phi_i + (mu_i + nu_i).reshape(m, k)
    agg = 0.5 * S.rm1mlog(yb, xb)[0] + S.stirling_mu(yb) - S.stirling_mu(xb)
    agg += (yb - xb) * S.digamma_nu(xb)
    return np.asarray(np.maximum((per * wb).sum(-1) - agg, 0.0), np.float64)


def split_small(x: F64, y: F64) -> tuple[NDArray[np.bool_], F64]:
    r"""KL of Dirichlet rows whose concentrations at most 1 sum to at most 1/4 of the rest.

    ``x``, ``y``: ``(n, K)``. Returns the mask of the rows this applies to and their
    values. With :math:`f = \log\Gamma`, the KL is exactly
    :math:`\sum_i D_f(y_i\|x_i) - D_f(y_0\|x_0)` (:math:`D_f` the Bregman divergence of
    :math:`f`). Let :math:`S` be the components with :math:`x_i, y_i \le 1` other than the
    (first) largest :math:`x_i`, :math:`B` the others, :math:`x_S = \sum_S x_i`,
    :math:`x_B = \sum_B x_i` (likewise :math:`y`), and require :math:`S, B \ne \emptyset`,
    :math:`x_S \le x_B/4`, :math:`y_S \le y_B/4`. Then

    .. math:: \mathrm{KL} = \sum_{i \in S} \big[\phi(y_i/x_i) + D_g(y_i\|x_i)\big]
       + \mathrm{KL}_B + T,

    * :math:`f(x) = g(x) - \log x`, :math:`g = \log\Gamma(1 + \cdot)`, splits
      :math:`D_f = D_g + \phi` exactly (:math:`\phi(r) = r - 1 - \log r`): both
      non-negative, no term of the size of :math:`\log\Gamma(x_i) \approx -\log x_i`
      (the "a few 1e-15 absolute" that the Stirling-remainder forms carry at
      :math:`x_i \approx 10^{-3}`) is formed (:func:`_bregman_lgamma1p`);
    * :math:`\mathrm{KL}_B = \sum_B D_f(y_i\|x_i) - D_f(y_B\|x_B) \ge 0` is the KL of the
      Dirichlet of the :math:`B` components alone (exactly 0 if :math:`|B| = 1`),
      by the rearranged closed form (``kl._k_dirichlet_far``) with the :math:`S`
      components masked out;
    * :math:`T = D_f(y_B\|x_B) - D_f(y_0\|x_0)`, the two large Bregman terms that
      cancel to :math:`O(x_S)`, is formed as the integral of the derivative along
      :math:`X_t = x_B + t x_S`, :math:`Y_t = y_B + t y_S`:

      .. math:: T = x_S \int_0^1 D_{-\psi}(Y_t\|X_t)\,dt
         - (y_S - x_S) \int_0^1 [\psi(Y_t) - \psi(X_t)]\,dt,

      with :math:`D_{-\psi}(Y\|X) = \phi(Y/X) + \tfrac{d^2}{2Y} + [\nu(Y) - \nu(X)
      - (Y - X)\nu'(X)]`, :math:`d = (Y - X)/X`, :math:`\nu'(X) = (\tfrac12 - U(X))/X^2`
      (:math:`U` from :func:`~klproof.numeric._special.trigamma_excess`), and
      :math:`\psi(Y) - \psi(X) = \log(Y/X) + d/(2Y) - (\nu(Y) - \nu(X))`. The integrand's
      nearest singularity (:math:`X_t = 0`) lies at :math:`t = -x_B/x_S \le -4`, so 3 to
      6 Gauss–Legendre nodes suffice (:func:`_t_nodes`).

    For rows off the diagonal only (some :math:`|y_i/x_i - 1| \ge 1/4`): if that
    component is in :math:`S`, :math:`\phi(y_i/x_i) \ge 0.026` bounds the KL below; if
    in :math:`B`, so does :math:`x_S\,\phi(Y_t/X_t)`-sized :math:`T` — on the diagonal
    the differences in :math:`D_{-\psi}` would cancel (the near-diagonal quadratures
    serve those rows).

    Accuracy: every piece is formed to a few ulp of its own size; the only sign change is
    in :math:`T`'s second integral, at most :math:`|y_S - x_S|\,|\log(y_B/x_B)|`, which
    against :math:`\phi(y_S/x_S)`-sized and :math:`x_S\,\phi(y_B/x_B)`-sized positive
    terms cancels at most a few bits.
    """
    x, y = np.broadcast_arrays(np.atleast_2d(x), np.atleast_2d(y))
    n, k = x.shape
    with np.errstate(all="ignore"):
        small = (x <= 1.0) & (y <= 1.0)
        small[np.arange(n), np.argmax(x, -1)] = False  # B holds the largest x_i
        ws = small.astype(np.float64)
        wb = 1.0 - ws
        add = np.add
        xs_, ys_ = S.row_reduce(add, x * ws), S.row_reduce(add, y * ws)
        xb, yb = S.row_reduce(add, x * wb), S.row_reduce(add, y * wb)
        some, every = S.row_reduce(np.logical_or, small), S.row_reduce(np.logical_and, small)
        ok = some & ~every & (xs_ <= 0.25 * xb) & (ys_ <= 0.25 * yb)
        # rows spanning many decades go to kl._k_dirichlet's kl_wide (the integrand
        # below overflows for extreme Y/X)
        ok &= ~DW.wide_rows_of(x, y)
        idx = np.flatnonzero(ok)
        if not idx.size:
            return ok, np.empty(0)
        x, y, ws, wb = x[idx], y[idx], ws[idx], wb[idx]
        xs_, ys_, xb, yb = xs_[idx], ys_[idx], xb[idx], yb[idx]
        m = idx.size
        # -- S components: phi + D_g (B components evaluated at 1 and masked out)
        xf = np.where(ws > 0, x, 1.0).reshape(-1)
        yf = np.where(ws > 0, y, 1.0).reshape(-1)
        part_s = S.rm1mlog(yf, xf)[0] + _bregman_lgamma1p(xf, yf)
        total = S.row_reduce(np.add, part_s.reshape(m, k) * ws)
        # -- KL of the B components alone (rearranged closed form, masked; 0 if |B| = 1)
        multi = np.flatnonzero(S.row_reduce(np.add, wb) > 1)
        if multi.size:
            total[multi] += _kl_masked(x[multi], y[multi], wb[multi], xb[multi], yb[multi])
        # -- T along X_t = x_B + t x_S, Y_t = y_B + t y_S
        rel = float(np.max(np.maximum(xs_ / xb, ys_ / yb)))
        nodes, weights = S.gauss_legendre_01(_t_nodes(rel))
        xt = (xb[None, :] + nodes[:, None] * xs_[None, :]).reshape(-1)
        yt = (yb[None, :] + nodes[:, None] * ys_[None, :]).reshape(-1)
        d = (yt - xt) / xt
        nus = S.digamma_nu(np.concatenate([xt, yt]))
        dnu = nus[xt.size :] - nus[: xt.size]
        dpsi = S.log_ratio(yt, xt) + d / (2.0 * yt) - dnu
        dneg = S.rm1mlog(yt, xt)[0] + d * d / (2.0 * yt) + dnu - d * (0.5 - _u(xt)) / xt
        w = weights[:, None]
        i_neg = (w * dneg.reshape(len(nodes), m)).sum(0)
        i_psi = (w * dpsi.reshape(len(nodes), m)).sum(0)
        total += xs_ * i_neg - (ys_ - xs_) * i_psi
    return ok, np.asarray(np.maximum(total, 0.0), np.float64)


def near_into(
    out: F64, idx: NDArray[np.intp], x: F64, y: F64, rel: F64, near_rows: int = _NEAR_ROWS
) -> None:
    """``out[idx] = _near(x[idx], y[idx])``; ``rel``: each row's largest ``|y_i/x_i - 1|``.

    By node-count class (:func:`_near` takes its nodes from the chunk's largest step),
    then in chunks whose node arrays stay in cache: ``near_rows`` rows for ``K = 2``, in
    proportion fewer for more components, so that a chunk's ``(nodes, rows, K)`` arrays
    do not grow with ``K`` (but at least 64 rows: each call makes ~300 NumPy calls, which
    on 8 rows of K = 16 cost 1.3 us per element against 0.28 on 64).
    """
    rows = max(64, near_rows * 2 // x.shape[-1])
    cls = np.searchsorted(_NEAR_REL, rel[idx])
    for c in range(len(_NEAR_REL) + 1):
        part = idx[cls == c]
        for lo in range(0, part.size, rows):
            sel = part[lo : lo + rows]
            out[sel] = _near(x[sel], y[sel])


def _careful_rows(x: F64, y: F64, careful: Careful, near_rows: int = _NEAR_ROWS) -> F64:
    """Rows ``(m, K)`` flagged by :func:`_fast`, each by the first kernel that applies.

    :func:`_near`, :func:`split_small` (``careful`` would hand those rows to it too, after
    a wasted try of its fast form), else ``careful``.
    """
    x, y = np.broadcast_arrays(x, y)
    out = np.empty(x.shape[0])
    with np.errstate(all="ignore"):
        rel = S.row_reduce(np.maximum, np.abs((y - x) / x))
        close = rel < 0.25
        lo, hi = S.row_reduce(np.minimum, x), S.row_reduce(np.maximum, x)
        near = close & (lo >= NEAR_LO) & (hi <= NEAR_HI)
    if near.any():
        near_into(out, np.flatnonzero(near), x, y, rel, near_rows)
    if not near.all():
        # far rows: split_small as careful would, without its fast try (split_small
        # needs some |y_i/x_i - 1| >= 1/4: see there)
        far = np.flatnonzero(~close)
        ok, val = split_small(x[far], y[far])
        out[far[ok]] = val
        done = near.copy()
        done[far[ok]] = True
        rest = np.flatnonzero(~done)
        if rest.size:
            out[rest] = careful(x[rest], y[rest])
    return out


def _driver(
    load: Callable[[list[NDArray[Any]], _Work, int], None],
    finish: Callable[[list[NDArray[Any]], F64, int], None] | None,
    careful: Careful,
    prepared: list[NDArray[Any]],
    n: int,
    out: FArr,
    work: _Work,
    near: _NearRows | None = None,
) -> None:
    """Fast values block by block into ``out`` (flat); flagged rows redone by ``careful``.

    With ``near`` (the near-chunk sizes ``careful`` reads), blocks after one with 3/4 of
    its rows flagged go to ``careful`` whole, without the fast form (re-tested every
    ``_special.NEAR_RECHECK``-th block), with the block buffers released and ``near.big`` rows
    per near chunk.
    """
    rows = work.rows
    fix_rows = _careful_sizes(n)[0]
    pending: list[NDArray[np.intp]] = []
    count = 0

    def flush() -> None:
        idx = np.concatenate(pending)
        pending.clear()
        sub = [a if a.ndim == 0 else np.asarray(a[idx], np.float64) for a in prepared]
        out[idx] = careful(*sub)

    every: NDArray[np.intp] | None = None  # a block's row numbers, once needed
    near_mode = False
    direct = out.dtype == np.float64  # blocks' values straight into the output
    with np.errstate(all="ignore"):
        for i, start in enumerate(range(0, n, rows)):
            stop = min(start + rows, n)
            m = stop - start
            blk = [a if a.ndim == 0 else a[start:stop] for a in prepared]
            if near_mode and i % S.NEAR_RECHECK:
                # rows near the diagonal: the fast block would flag them all; its
                # buffers are released and their memory serves longer near chunks
                if every is None:
                    every = np.arange(rows)
                idx = every[:m]
            else:
                work.acquire()
                load(blk, work, m)
                dest = cast(F64, out[start:stop]) if direct else None
                vals, ok = _fast(work, m, dest)
                if finish is not None:
                    finish(blk, vals, m)
                if not direct:
                    out[start:stop] = vals
                idx = np.flatnonzero(~ok)
                near_mode = near is not None and S.mostly_flagged(idx.size, m)
                if near is not None:
                    near.rows = near.big if near_mode else near.normal
                if near_mode:
                    work.release()
            if idx.size:
                pending.append(idx + start)
                count += idx.size
                if count >= fix_rows:
                    flush()
                    count = 0
        if pending:
            flush()


def _flat_scalars(arrays: Sequence[NDArray[Any]], shape: tuple[int, ...]) -> list[NDArray[Any]]:
    n = math.prod(shape)
    res: list[NDArray[Any]] = []
    for a in arrays:
        if a.size == 1:
            res.append(np.asarray(a, dtype=np.float64).reshape(()))
        elif a.shape == shape and a.flags.c_contiguous:
            res.append(a.reshape(n))
        else:
            res.append(np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(n))
    return res


def kl_beta_beta(
    a1: NDArray[Any],
    b1: NDArray[Any],
    a2: NDArray[Any],
    b2: NDArray[Any],
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    careful: Careful,
) -> FArr:
    """KL(Beta(a1, b1) || Beta(a2, b2)) over ``shape`` (module docstring).

    ``careful(x, y)`` takes ``(m, 2)`` rows of concentrations (``kl._k_dirichlet``).
    """
    out = S.empty_small_pages(shape, dtype)
    n = out.size
    flat = out.reshape(-1)
    prepared = _flat_scalars([a1, b1, a2, b2], shape)
    work = _Work(2, True, _rows(2, True, n))
    near = _NearRows(_careful_sizes(n)[1], work)

    def load(blk: list[NDArray[Any]], wk: _Work, m: int) -> None:
        z = wk.z  # [y_0, x_1, x_2, x_0, y_1, y_2]
        for row, a in zip((1, 2, 4, 5), blk, strict=True):
            z[row, :m] = a

    def slow(x1: F64, x2: F64, y1: F64, y2: F64) -> F64:
        xs = np.stack(np.broadcast_arrays(*(np.atleast_1d(t) for t in (x1, x2, y1, y2))), -1)
        return _careful_rows(xs[:, :2], xs[:, 2:], careful, near.rows)

    _driver(load, None, slow, prepared, n, flat, work, near)
    return out


def _log_width(lo: F64, hi: F64) -> F64:
    r"""Return :math:`\log(h - l)` for :math:`l \le 0 < 1 \le h` as ``log1p((h - 1) - l)``.

    Both ``h - 1`` and ``-l`` are non-negative and ``h - 1`` is exact for
    ``h <= 2`` (Sterbenz), so the argument of ``log1p`` carries a relative error of at
    most 2 ulp and the result keeps full relative accuracy also when ``h - l`` is
    within a few ulp of 1 (where ``log(h - l)`` would lose every digit).
    """
    return np.asarray(np.log1p((hi - 1.0) - lo), dtype=np.float64)


def kl_beta_uniform(
    a: NDArray[Any],
    b: NDArray[Any],
    lo: NDArray[Any],
    hi: NDArray[Any],
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    careful: Careful,
) -> FArr:
    r"""KL(Beta(a, b) || Uniform(lo, hi)) over ``shape``.

    :math:`\log(h - l) + \mathrm{KL}(\mathrm{Beta}(a, b)\,\|\,\mathrm{Beta}(1, 1))` for
    :math:`l \le 0` and :math:`h \ge 1`, else :math:`+\infty`; both terms are
    non-negative, so the sum is as accurate (relatively) as each: the first by
    :func:`_log_width`, the second as in the module docstring with :math:`y = (1, 1)`.
    ``careful(x, y)`` takes ``(m, 2)`` rows of concentrations (``kl._k_dirichlet``).
    """
    out = S.empty_small_pages(shape, dtype)
    n = out.size
    flat = out.reshape(-1)
    prepared = _flat_scalars([a, b, lo, hi], shape)
    work = _Work(2, False, _rows(2, False, n))
    near = _NearRows(_careful_sizes(n)[1], work)

    def load(blk: list[NDArray[Any]], wk: _Work, m: int) -> None:
        wk.z[0, :m] = blk[0]
        wk.z[1, :m] = blk[1]

    def finish(blk: list[NDArray[Any]], vals: F64, m: int) -> None:
        l_, h_ = blk[2], blk[3]
        vals += _log_width(l_, h_)
        np.copyto(vals, np.inf, where=~((l_ <= 0.0) & (h_ >= 1.0)))

    def slow(x1: F64, x2: F64, l_: F64, h_: F64) -> F64:
        x1, x2, l_, h_ = np.broadcast_arrays(*(np.atleast_1d(t) for t in (x1, x2, l_, h_)))
        xs = np.stack([x1, x2], -1)
        val = _careful_rows(xs, np.ones_like(xs), careful, near.rows) + _log_width(l_, h_)
        return np.asarray(np.where((l_ <= 0.0) & (h_ >= 1.0), val, np.inf), np.float64)

    _driver(load, finish, slow, prepared, n, flat, work, near)
    return out


def kl_dirichlet(
    x: NDArray[Any],
    y: NDArray[Any],
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    careful: Careful,
) -> FArr:
    """KL(Dirichlet(x) || Dirichlet(y)) over batch ``shape`` (``x``, ``y``: ``(..., K)``).

    ``careful(x, y)`` takes ``(m, K)`` rows of concentrations (``kl._k_dirichlet``).
    """
    k = int(x.shape[-1])
    out = S.empty_small_pages(shape, dtype)
    n = out.size
    flat = out.reshape(-1)
    target = (*shape, k)
    prepared = [
        a.reshape(n, k)
        if a.shape == target and a.flags.c_contiguous
        else np.ascontiguousarray(np.broadcast_to(a, target)).reshape(n, k)
        for a in (x, y)
    ]
    work = _Work(k, True, _rows(k, True, n))
    near = _NearRows(_careful_sizes(n)[1], work)

    def load(blk: list[NDArray[Any]], wk: _Work, m: int) -> None:
        wk.z[1 : k + 1, :m] = blk[0].T
        wk.z[k + 2 :, :m] = blk[1].T

    def slow(x: F64, y: F64) -> F64:
        return _careful_rows(x, y, careful, near.rows)

    _driver(load, None, slow, prepared, n, flat, work, near)
    return out
