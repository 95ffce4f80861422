r"""The closed-form KL catalogue: every pair derived two ways, as public data.

Naming convention (stable ids):

* ``kl/<p>/<q>`` — the pair's result, a derivation citing every route of the pair;
  ``<p>`` and ``<q>`` are lowercase family names (``kl/normal/normal``,
  ``kl/exponential/gamma``).
* ``kl/<p>/<q>/integral`` — route (a), from the defining integral (or sum), with a
  checked lemma for each expectation under ``p``.
* ``kl/<p>/<q>/bregman`` — route (b) for two members of one exponential family:
  :math:`A(\\eta_q) - A(\\eta_p) - \\langle \\eta_q - \\eta_p, \\nabla A(\\eta_p)\\rangle`
  with :math:`A` derived from the density.
* ``kl/<p>/<q>/cross-entropy`` — :math:`H(p, q) - H(p)`, each from its own lemmas
  (the second route for pairs that are not in one exponential family, a third one
  otherwise).
* ``entropy/<p>`` — the entropy of the family.
* ``fisher/<p>`` and ``kl/<p>/<p>/expansion`` — the Fisher information and the
  near-diagonal Taylor expansion (see :mod:`klproof.symbolic.kl.expansion`).

Public API: :func:`pairs`, :func:`get_pair`, :class:`KLPair`,
:class:`UnregisteredPairError`, :func:`near_diagonal`.

>>> from klproof.symbolic.kl import get_pair
>>> pair = get_pair("normal", "normal")
>>> pair.id
'kl/normal/normal'
>>> pair.routes
('kl/normal/normal/integral', 'kl/normal/normal/bregman', 'kl/normal/normal/cross-entropy')
>>> float(pair.evaluate({"loc": 0, "scale": 1}, {"loc": 1, "scale": 1}))
0.5
"""

from __future__ import annotations

from klproof.symbolic.kl.expansion import Expansion, near_diagonal
from klproof.symbolic.kl.pairs import KLPair, UnregisteredPairError, get_pair, pairs

__all__ = ["Expansion", "KLPair", "UnregisteredPairError", "get_pair", "near_diagonal", "pairs"]
