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


# Reductions over the action axis. For up to UNROLL actions they are written out as elementwise
# ops on the A columns, so XLA fuses a whole selection step into a few loop kernels (on CPU each
# `reduce` is its own kernel, launched once per tree level and simulation); above that, jnp's.
UNROLL = 16


def _columns(x: jax.Array) -> list:
    return [x[..., a] for a in range(x.shape[-1])]


def row_max(x: jax.Array) -> jax.Array:
    """[B, A] -> [B, 1] max over actions."""
    if x.shape[-1] > UNROLL:
        return jnp.max(x, axis=-1, keepdims=True)
    return functools.reduce(jnp.maximum, _columns(x))[..., None]


def row_min(x: jax.Array) -> jax.Array:
    """[B, A] -> [B, 1] min over actions."""
    if x.shape[-1] > UNROLL:
        return jnp.min(x, axis=-1, keepdims=True)
    return functools.reduce(jnp.minimum, _columns(x))[..., None]


def row_sum(x: jax.Array) -> jax.Array:
    """[B, A] -> [B, 1] sum over actions (left to right)."""
    if x.shape[-1] > UNROLL:
        return jnp.sum(x, axis=-1, keepdims=True)
    return functools.reduce(jnp.add, _columns(x))[..., None]


def row_argmax(x: jax.Array) -> jax.Array:
    """[B, A] -> [B] int32 argmax over actions; ties -> lowest index."""
    if x.shape[-1] > UNROLL:
        return jnp.argmax(x, axis=-1).astype(jnp.int32)
    best, index = x[..., 0], jnp.zeros(x.shape[:-1], jnp.int32)
    for a, column in enumerate(_columns(x)[1:], start=1):
        better = column > best
        best, index = jnp.where(better, column, best), jnp.where(better, a, index)
    return index


def pick(x: jax.Array, action: jax.Array) -> jax.Array:
    """[B, A], [B] int -> [B] x[b, action[b]]."""
    if x.shape[-1] > UNROLL:
        return jnp.take_along_axis(x, action[:, None], axis=-1)[:, 0]
    out = x[..., 0]
    for a, column in enumerate(_columns(x)[1:], start=1):
        out = jnp.where(action == a, column, out)
    return out


def softmax(logits: jax.Array) -> jax.Array:
    """[B, A] softmax over actions (as `jax.nn.softmax`)."""
    e = jnp.exp(logits - row_max(logits))
    return e / row_sum(e)


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
    node_value = view.node_value[:, None]
    safe_q = jnp.where(visited, q, node_value)
    lo = jnp.minimum(node_value, row_min(safe_q))
    hi = jnp.maximum(node_value, row_max(safe_q))
    return (jnp.where(visited, q, lo) - lo) / jnp.maximum(hi - lo, epsilon)


def q_by_tree(view: NodeView, tree_min: jax.Array, tree_max: jax.Array) -> jax.Array:
    """[B, A] Q min-max normalised over every Q backed up in the whole tree so far (the paper's
    MinMaxStats): `(q - min) / (max - min)` once max > min, the raw q before that; 0 for
    unvisited children."""
    q = view.qvalues
    lo, hi = tree_min[:, None], tree_max[:, None]
    normalised = jnp.where(hi > lo, (q - lo) / jnp.where(hi > lo, hi - lo, 1.0), q)
    return jnp.where(view.visits > 0, normalised, 0.0)


def puct_scores(view: NodeView, q_score: jax.Array, c1: float, c2: float) -> jax.Array:
    """[B, A] pUCT: Q_norm + P * sqrt(N) / (1 + n) * (c1 + log((N + c2 + 1) / c2))."""
    node_visits = view.node_visits[:, None]
    pb_c = c1 + jnp.log((node_visits + c2 + 1.0) / c2)
    prior = softmax(view.prior_logits)
    return q_score + jnp.sqrt(node_visits) * pb_c * prior / (view.visits + 1)


def completed_q(view: NodeView, value_scale: float = 0.1, maxvisit_init: float = 50.0,
                epsilon: float = 1e-8) -> jax.Array:
    """[B, A] Gumbel MuZero's completed Q-values, rescaled to [0, 1] per node and multiplied by
    (maxvisit_init + max visits) * value_scale. Unvisited actions get the mixed value: the raw
    value averaged with the prior-weighted Q of visited actions (Danihelka et al. 2022, eq. 33)."""
    q = view.qvalues
    visited = view.visits > 0
    prior = jnp.maximum(jnp.finfo(q.dtype).tiny, softmax(view.prior_logits))
    total = row_sum(view.visits)
    prior_visited = row_sum(jnp.where(visited, prior, 0.0))
    weighted_q = row_sum(
        jnp.where(visited, prior * q / jnp.where(visited, prior_visited, 1.0), 0.0))
    mixed = (view.raw_value[:, None] + total * weighted_q) / (total + 1)
    completed = jnp.where(visited, q, mixed)
    lo, hi = row_min(completed), row_max(completed)
    completed = (completed - lo) / jnp.maximum(hi - lo, epsilon)
    scale = maxvisit_init + row_max(view.visits)
    return scale * value_scale * completed


def gumbel_interior_action(view: NodeView, qvalues: jax.Array) -> jax.Array:
    """[B] deterministic interior choice: argmax of pi' - n / (1 + sum n), pi' = softmax(logits+q)
    (the visit counts track the improved policy pi')."""
    probs = softmax(view.prior_logits + qvalues)
    total = row_sum(view.visits)
    return row_argmax(probs - view.visits / (1 + total))


def considered_scores(considered_visit: jax.Array, gumbel: jax.Array, logits: jax.Array,
                      qvalues: jax.Array, visits: jax.Array) -> jax.Array:
    """[B, A] g + logits + q for actions still in the sequential-halving race (visited exactly
    `considered_visit` times), -inf for the others."""
    logits = logits - row_max(logits)
    penalty = jnp.where(visits == considered_visit, 0.0, -jnp.inf)
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
    "NodeView",
    "completed_q",
    "considered_scores",
    "considered_visits_table",
    "gumbel_interior_action",
    "masked_argmax",
    "puct_scores",
    "q_by_parent_and_siblings",
    "q_by_tree",
]
