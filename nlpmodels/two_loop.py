"""The two-loop recursion: H v for the inverse L-BFGS matrix of the stored pairs (Nocedal & Wright
2006, "Numerical Optimization", 2nd ed., Algorithm 7.4).

With rho_i = 1 / (s_i' y_i) and H0 = I / sigma (so that H inverts B0 = sigma I exactly):

    q = v;  for i = newest..oldest:  alpha_i = rho_i s_i' q,  q = q - alpha_i y_i
    r = q / sigma;  for i = oldest..newest:  beta = rho_i y_i' r,  r = r + (alpha_i - beta) s_i

2 k dot products and 2 k vector updates for k stored pairs: O(k n), on the device, in place on one
copy of v.
"""

from __future__ import annotations

from typing import Any

from minidnn.nlpmodels.pair_memory import PairMemory


def two_loop(xp: Any, pairs: PairMemory, rho: Any, sigma: Any, v: Any) -> Any:
    """H v, ``rho[slot]`` = 1 / (s'y) of the pair in ``slot``, H0 = I / ``sigma`` (see the module)."""
    order = pairs.order()
    q = xp.asarray(v, copy=True)
    alphas = []
    for slot in reversed(order):
        alpha = rho[slot] * (pairs.s(slot) @ q)
        q -= alpha * pairs.y(slot)
        alphas.append(alpha)
    q /= sigma
    for slot, alpha in zip(order, reversed(alphas)):
        beta = rho[slot] * (pairs.y(slot) @ q)
        q += (alpha - beta) * pairs.s(slot)
    return q
