"""Action-selection rules of the batched search: pUCT (MuZero) and Gumbel MuZero, with their
Q-value normalisations. Every function acts on one *row* of the tree, a `NodeView` of the node
each batch element currently stands on (shapes `[B, A]` per child, `[B]` per node).

References: Schrittwieser et al. 2020, "Mastering Atari, Go, Chess and Shogi by Planning with a
Learned Model" (pUCT, Appendix B); Danihelka et al. 2022, "Policy improvement by planning with
Gumbel" (sequential halving at the root, deterministic interior selection, completed Q-values).
"""

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp


class NodeView(NamedTuple):
    """One node per batch element, as read from the tree.

    visits: [B, A] int32 child visit counts; prior_logits: [B, A]; values: [B, A] child values;
    rewards, discounts: [B, A] on the edges; index: [B, A] int32 child node (-1 if unexpanded);
    node_visits: [B] int32; node_value: [B] mean backed-up value; raw_value: [B] the prediction.
    """

    visits: jax.Array
    prior_logits: jax.Array
    values: jax.Array
    rewards: jax.Array
    discounts: jax.Array
    index: jax.Array
    node_visits: jax.Array
    node_value: jax.Array
    raw_value: jax.Array

    @property
    def qvalues(self) -> jax.Array:
        """[B, A] r(s, a) + discount * v(s')."""
        return self.rewards + self.discounts * self.values


# Per-action arithmetic. For up to UNROLL actions it is written out on the A columns ([B] each)
# and reductions are chains of elementwise ops, never broadcasting a per-node [B] value back to
# [B, A]: XLA's CPU backend then fuses a whole selection step into one or two loop kernels
# (a `reduce` is a kernel of its own, and an expensive op - exp, log, divide - is not fused into
# a broadcasting consumer). Each step runs once per tree level and simulation. Above UNROLL
# actions, jnp's reductions and broadcasting.
UNROLL = 16


def _small(x: jax.Array) -> bool:
    return x.shape[-1] <= UNROLL


def _columns(x: jax.Array) -> list:
    return [x[..., a] for a in range(x.shape[-1])]


def per_action(fn, *args) -> jax.Array:
    """[B, A] fn applied elementwise to [B, A] arguments and [B] (or scalar) ones, the latter
    standing for the same value for every action."""
    num_actions = next(x.shape[-1] for x in args if jnp.ndim(x) == 2)
    if num_actions > UNROLL:
        return fn(*(x[:, None] if jnp.ndim(x) == 1 else x for x in args))
    column = lambda x, a: x[:, a] if jnp.ndim(x) == 2 else x  # noqa: E731
    return jnp.stack([fn(*(column(x, a) for x in args)) for a in range(num_actions)], axis=-1)


def row_max(x: jax.Array) -> jax.Array:
    """[B, A] -> [B] max over actions."""
    return functools.reduce(jnp.maximum, _columns(x)) if _small(x) else jnp.max(x, axis=-1)


def row_min(x: jax.Array) -> jax.Array:
    """[B, A] -> [B] min over actions."""
    return functools.reduce(jnp.minimum, _columns(x)) if _small(x) else jnp.min(x, axis=-1)


def row_sum(x: jax.Array) -> jax.Array:
    """[B, A] -> [B] sum over actions (left to right)."""
    return functools.reduce(jnp.add, _columns(x)) if _small(x) else jnp.sum(x, axis=-1)


def row_argmax(x: jax.Array) -> jax.Array:
    """[B, A] -> [B] int32 argmax over actions; ties -> lowest index."""
    if not _small(x):
        return jnp.argmax(x, axis=-1).astype(jnp.int32)
    best, index = x[..., 0], jnp.zeros(x.shape[:-1], jnp.int32)
    for a, column in enumerate(_columns(x)[1:], start=1):
        better = column > best
        best, index = jnp.where(better, column, best), jnp.where(better, a, index)
    return index


def pick(x: jax.Array, action: jax.Array) -> jax.Array:
    """[B, A], [B] int -> [B] x[b, action[b]]."""
    if not _small(x):
        return jnp.take_along_axis(x, action[:, None], axis=-1)[:, 0]
    out = x[..., 0]
    for a, column in enumerate(_columns(x)[1:], start=1):
        out = jnp.where(action == a, column, out)
    return out


def softmax(logits: jax.Array) -> jax.Array:
    """[B, A] softmax over actions (as `jax.nn.softmax`)."""
    e = per_action(lambda x, m: jnp.exp(x - m), logits, row_max(logits))
    return per_action(jnp.divide, e, row_sum(e))


def masked_argmax(scores: jax.Array, invalid: jax.Array | None) -> jax.Array:
    """[B] argmax over the last axis, never an `invalid` (nonzero) entry; ties -> lowest index."""
    if invalid is not None:
        scores = jnp.where(invalid, -jnp.inf, scores)
    return row_argmax(scores)


def q_by_parent_and_siblings(view: NodeView, epsilon: float = 1e-8) -> jax.Array:
    """[B, A] Q min-max normalised per node, over the node's value and its visited children's Qs;
    unvisited children get the minimum (0 after normalisation). The default of mctx."""
    q = view.qvalues
    visited = view.visits > 0
    safe_q = per_action(jnp.where, visited, q, view.node_value)
    lo = jnp.minimum(view.node_value, row_min(safe_q))
    scale = jnp.maximum(jnp.maximum(view.node_value, row_max(safe_q)) - lo, epsilon)
    return per_action(lambda v, q, lo, s: (jnp.where(v, q, lo) - lo) / s, visited, q, lo, scale)


def q_by_tree(view: NodeView, tree_min: jax.Array, tree_max: jax.Array) -> jax.Array:
    """[B, A] Q min-max normalised over every Q backed up in the whole tree so far (the paper's
    MinMaxStats): `(q - min) / (max - min)` once max > min, the raw q before that; 0 for
    unvisited children. tree_min, tree_max: [B]."""
    spread = tree_max > tree_min
    width = jnp.where(spread, tree_max - tree_min, 1.0)

    def one(v, q):
        return jnp.where(v > 0, jnp.where(spread, (q - tree_min) / width, q), 0.0)

    return per_action(one, view.visits, view.qvalues)


def puct_scores(view: NodeView, q_score: jax.Array, c1: float, c2: float) -> jax.Array:
    """[B, A] pUCT: Q_norm + P * sqrt(N) / (1 + n) * (c1 + log((N + c2 + 1) / c2))."""
    pb_c = c1 + jnp.log((view.node_visits + c2 + 1.0) / c2)
    explore = jnp.sqrt(view.node_visits) * pb_c
    prior = softmax(view.prior_logits)
    return per_action(lambda q, p, n: q + explore * p / (n + 1), q_score, prior, view.visits)


def completed_q(view: NodeView, value_scale: float = 0.1, maxvisit_init: float = 50.0,
                epsilon: float = 1e-8) -> jax.Array:
    """[B, A] Gumbel MuZero's completed Q-values, rescaled to [0, 1] per node and multiplied by
    (maxvisit_init + max visits) * value_scale. Unvisited actions get the mixed value: the raw
    value averaged with the prior-weighted Q of visited actions (Danihelka et al. 2022, eq. 33)."""
    q = view.qvalues
    visited = view.visits > 0
    prior = jnp.maximum(jnp.finfo(q.dtype).tiny, softmax(view.prior_logits))
    total = row_sum(view.visits)
    prior_visited = jnp.where(visited, prior, 0.0)
    safe_sum = per_action(jnp.where, visited, row_sum(prior_visited), 1.0)
    weighted_q = row_sum(jnp.where(visited, prior * q / safe_sum, 0.0))
    mixed = (view.raw_value + total * weighted_q) / (total + 1)
    completed = per_action(jnp.where, visited, q, mixed)
    lo = row_min(completed)
    scale = jnp.maximum(row_max(completed) - lo, epsilon)
    factor = (maxvisit_init + row_max(view.visits)) * value_scale
    return per_action(lambda c, lo, s, f: f * ((c - lo) / s), completed, lo, scale, factor)


def gumbel_interior_action(view: NodeView, qvalues: jax.Array) -> jax.Array:
    """[B] deterministic interior choice: argmax of pi' - n / (1 + sum n), pi' = softmax(logits+q)
    (the visit counts track the improved policy pi')."""
    probs = softmax(view.prior_logits + qvalues)
    total = row_sum(view.visits)
    return row_argmax(per_action(lambda p, n, t: p - n / (1 + t), probs, view.visits, total))


def considered_scores(considered_visit: jax.Array, gumbel: jax.Array, logits: jax.Array,
                      qvalues: jax.Array, visits: jax.Array) -> jax.Array:
    """[B, A] g + logits + q for actions still in the sequential-halving race (visited exactly
    `considered_visit` [B] times), -inf for the others."""
    logits = per_action(jnp.subtract, logits, row_max(logits))
    penalty = per_action(lambda n, c: jnp.where(n == c, 0.0, -jnp.inf), visits, considered_visit)
    return jnp.maximum(-1e9, gumbel + logits + qvalues) + penalty


def considered_visits_table(max_considered: int, num_simulations: int) -> tuple:
    """Sequential halving's schedule: row m (m considered actions) gives, for each simulation,
    the visit count an action must have to be chosen then. Budget per round:
    max(1, floor(n / (ceil(log2 m) * m_round))) visits to each of the m_round survivors, then
    halve (to at least 2)."""

    def sequence(m: int) -> tuple:
        if m <= 1:
            return tuple(range(num_simulations))
        rounds = int(math.ceil(math.log2(m)))
        out, visits, alive = [], [0] * m, m
        while len(out) < num_simulations:
            for _ in range(max(1, int(num_simulations / (rounds * alive)))):
                out.extend(visits[:alive])
                visits[:alive] = [v + 1 for v in visits[:alive]]
            alive = max(2, alive // 2)
        return tuple(out[:num_simulations])

    return tuple(sequence(m) for m in range(max_considered + 1))


__all__ = [
    "UNROLL",
    "NodeView",
    "completed_q",
    "considered_scores",
    "considered_visits_table",
    "gumbel_interior_action",
    "masked_argmax",
    "per_action",
    "pick",
    "puct_scores",
    "q_by_parent_and_siblings",
    "q_by_tree",
    "row_argmax",
    "row_max",
    "row_min",
    "row_sum",
    "softmax",
]
