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
* ``entropy/<p>`` — the entropy of the family, from its definition.
* ``kl/<p>/<p>/expansion`` — the near-diagonal Taylor expansion to third order, with
  the Fisher information derived from the density (see
  :mod:`klproof.symbolic.kl.expansion`).

Every route is built from one specification in :mod:`klproof.symbolic.kl.catalogue`
(families, claimed closed form, the expectations under ``p`` that the lemmas
establish) and must verify with no unchecked step; the pair derivation ``kl/<p>/<q>``
cites each route, so it verifies only if all of them do and reach the same expression.
Lemmas that recur across derivations (a moment shared by two routes) are checked once
per process (the private ``Memo`` check wrapper); nothing is cached on disk.

Public API: :func:`pairs`, :func:`get_pair`, :class:`KLPair`,
:class:`UnregisteredPairError`, :func:`near_diagonal`, :func:`entropies`.

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
from klproof.symbolic.kl.pairs import KLPair, UnregisteredPairError, entropies, get_pair, pairs

__all__ = [
    "Expansion",
    "KLPair",
    "UnregisteredPairError",
    "entropies",
    "get_pair",
    "near_diagonal",
    "pairs",
]
