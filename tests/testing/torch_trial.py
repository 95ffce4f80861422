"""The new-user trial: ``check_kl`` on PyTorch's ``kl_divergence`` (run by ``nox -s kit_torch``).

Importing this module does nothing; running it imports torch, checks Normal, Gamma and
Beta pairs (Beta only once the symbolic catalogue registers ``kl/beta/beta``) and prints
the reports.
"""

from __future__ import annotations

from typing import Any


def main() -> None:
    import numpy as np
    import torch
    from torch.distributions import Beta, Gamma, Normal, kl_divergence

    from klproof.symbolic.kl import UnregisteredPairError
    from klproof.testing import check_kl

    torch.set_num_threads(1)

    def t(x: Any) -> Any:
        return torch.as_tensor(np.asarray(x, dtype=np.float64))

    def run(fn: Any, pair: str, params: list[str]) -> None:
        try:
            report = check_kl(fn, pair, param_map=params, n=100)
        except UnregisteredPairError as exc:
            print(f"{pair}: no symbolic reference yet ({exc})")
            return
        print(report, flush=True)

    run(
        lambda m1, s1, m2, s2: kl_divergence(
            Normal(t(m1), t(s1), validate_args=False), Normal(t(m2), t(s2), validate_args=False)
        ).numpy(),
        "normal/normal",
        ["p.loc", "p.scale", "q.loc", "q.scale"],
    )
    run(
        lambda a1, b1, a2, b2: kl_divergence(
            Gamma(t(a1), t(b1), validate_args=False), Gamma(t(a2), t(b2), validate_args=False)
        ).numpy(),
        "gamma/gamma",
        ["p.concentration", "p.rate", "q.concentration", "q.rate"],
    )
    run(
        lambda a1, b1, a2, b2: kl_divergence(
            Beta(t(a1), t(b1), validate_args=False), Beta(t(a2), t(b2), validate_args=False)
        ).numpy(),
        "beta/beta",
        ["p.concentration1", "p.concentration0", "q.concentration1", "q.concentration0"],
    )


if __name__ == "__main__":
    main()
