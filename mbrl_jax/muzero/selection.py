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


# Per-action arithmetic is written on "columns": for up to UNROLL actions a [B, A] array is a list
# of A [B] columns, reductions are chains of elementwise ops and a per-node [B] value is never
# broadcast back to [B, A]. XLA's CPU backend then fuses a whole selection step into one or two
# loop kernels (a `reduce` is a kernel of its own, and an expensive op - exp, log, divide - is
# not fused into a broadcasting consumer), and a step runs once per tree level and simulation.
# Above UNROLL actions the "columns" are the one [B, A] array and per-node values are [B, 1].
UNROLL = 16


def _cols(x: jax.Array) -> list:
    """[B, A] -> A columns [B] (A <= UNROLL) or [x]."""
    return [x[:, a] for a in range(x.shape[-1])] if x.shape[-1] <= UNROLL else [x]


def _join(cols: list) -> jax.Array:
    """Inverse of `_cols`: [B, A]."""
    return cols[0] if cols[0].ndim == 2 else jnp.stack(cols, axis=-1)


def _node(x: jax.Array, cols: list) -> jax.Array:
    """A per-node [B] value shaped to combine with `cols`."""
    return x[:, None] if cols[0].ndim == 2 else x


def _reduce(op, reduction, cols: list) -> jax.Array:
    if cols[0].ndim == 2:
        return reduction(cols[0], axis=-1, keepdims=True)
    return functools.reduce(op, cols)


def _max(cols):
    return _reduce(jnp.maximum, jnp.max, cols)


def _min(cols):
    return _reduce(jnp.minimum, jnp.min, cols)


def _sum(cols):
    return _reduce(jnp.add, jnp.sum, cols)


def _argmax(cols: list) -> jax.Array:
    """[B] int32 argmax over actions; ties -> lowest index."""
    if cols[0].ndim == 2:
        return jnp.argmax(cols[0], axis=-1).astype(jnp.int32)
    best, index = cols[0], jnp.zeros(cols[0].shape, jnp.int32)
    for a, column in enumerate(cols[1:], start=1):
        better = column > best
        best, index = jnp.where(better, column, best), jnp.where(better, a, index)
    return index


def _softmax(cols: list) -> list:
    top = _max(cols)
    e = [jnp.exp(c - top) for c in cols]
    total = _sum(e)
    return [x / total for x in e]


def _q_cols(view: "NodeView") -> list:
    return [r + d * v for r, d, v in zip(_cols(view.rewards), _cols(view.discounts),
                                         _cols(view.values), strict=True)]


def row_max(x: jax.Array) -> jax.Array:
    """[B, A] -> [B] max over actions."""
    return _max(_cols(x)).reshape(x.shape[0])


def row_sum(x: jax.Array) -> jax.Array:
    """[B, A] -> [B] sum over actions (left to right)."""
    return _sum(_cols(x)).reshape(x.shape[0])


def pick(x: jax.Array, action: jax.Array) -> jax.Array:
    """[B, A], [B] int -> [B] x[b, action[b]]."""
    cols = _cols(x)
    if cols[0].ndim == 2:
        return jnp.take_along_axis(x, action[:, None], axis=-1)[:, 0]
    out = cols[0]
    for a, column in enumerate(cols[1:], start=1):
        out = jnp.where(action == a, column, out)
    return out


def softmax(logits: jax.Array) -> jax.Array:
    """[B, A] softmax over actions (as `jax.nn.softmax`)."""
    return _join(_softmax(_cols(logits)))


def masked_argmax(scores: jax.Array, invalid: jax.Array | None) -> jax.Array:
    """[B] argmax over the last axis, never an `invalid` (nonzero) entry; ties -> lowest index."""
    if invalid is not None:
        scores = jnp.where(invalid, -jnp.inf, scores)
    return _argmax(_cols(scores))


def q_by_parent_and_siblings(view: NodeView, epsilon: float = 1e-8) -> jax.Array:
    """[B, A] Q min-max normalised per node, over the node's value and its visited children's Qs;
    unvisited children get the minimum (0 after normalisation). The default of mctx."""
    q = _q_cols(view)
    visited = [n > 0 for n in _cols(view.visits)]
    value = _node(view.node_value, q)
    safe = [jnp.where(v, x, value) for v, x in zip(visited, q, strict=True)]
    lo = jnp.minimum(value, _min(safe))
    scale = jnp.maximum(jnp.maximum(value, _max(safe)) - lo, epsilon)
    return _join([(jnp.where(v, x, lo) - lo) / scale for v, x in zip(visited, q, strict=True)])


def q_by_tree(view: NodeView, tree_min: jax.Array, tree_max: jax.Array) -> jax.Array:
    """[B, A] Q min-max normalised over every Q backed up in the whole tree so far (the paper's
    MinMaxStats): `(q - min) / (max - min)` once max > min, the raw q before that; 0 for
    unvisited children. tree_min, tree_max: [B]."""
    q = _q_cols(view)
    lo, hi = _node(tree_min, q), _node(tree_max, q)
    spread = hi > lo
    width = jnp.where(spread, hi - lo, 1.0)
    return _join([jnp.where(n > 0, jnp.where(spread, (x - lo) / width, x), 0.0)
                  for n, x in zip(_cols(view.visits), q, strict=True)])


def puct_scores(view: NodeView, q_score: jax.Array, c1: float, c2: float) -> jax.Array:
    """[B, A] pUCT: Q_norm + P * sqrt(N) / (1 + n) * (c1 + log((N + c2 + 1) / c2))."""
    prior = _softmax(_cols(view.prior_logits))
    visits = _node(view.node_visits, prior)
    explore = jnp.sqrt(visits) * (c1 + jnp.log((visits + c2 + 1.0) / c2))
    return _join([q + explore * p / (n + 1) for q, p, n in
                  zip(_cols(q_score), prior, _cols(view.visits), strict=True)])


def _completed_q(view: NodeView, value_scale: float, maxvisit_init: float,
                 epsilon: float) -> list:
    q = _q_cols(view)
    visits = _cols(view.visits)
    visited = [n > 0 for n in visits]
    tiny = jnp.finfo(q[0].dtype).tiny
    prior = [jnp.maximum(tiny, p) for p in _softmax(_cols(view.prior_logits))]
    total = _sum(visits)
    prior_visited = _sum([jnp.where(v, p, 0.0) for v, p in zip(visited, prior, strict=True)])
    weighted_q = _sum([jnp.where(v, p * x / jnp.where(v, prior_visited, 1.0), 0.0)
                       for v, p, x in zip(visited, prior, q, strict=True)])
    mixed = (_node(view.raw_value, q) + total * weighted_q) / (total + 1)
    completed = [jnp.where(v, x, mixed) for v, x in zip(visited, q, strict=True)]
    lo = _min(completed)
    scale = jnp.maximum(_max(completed) - lo, epsilon)
    factor = (maxvisit_init + _max(visits)) * value_scale
    return [factor * ((c - lo) / scale) for c in completed]


def completed_q(view: NodeView, value_scale: float = 0.1, maxvisit_init: float = 50.0,
                epsilon: float = 1e-8) -> jax.Array:
    """[B, A] Gumbel MuZero's completed Q-values, rescaled to [0, 1] per node and multiplied by
    (maxvisit_init + max visits) * value_scale. Unvisited actions get the mixed value: the raw
    value averaged with the prior-weighted Q of visited actions (Danihelka et al. 2022, eq. 33)."""
    return _join(_completed_q(view, value_scale, maxvisit_init, epsilon))


def gumbel_interior_action(view: NodeView, qvalues: jax.Array) -> jax.Array:
    """[B] deterministic interior choice: argmax of pi' - n / (1 + sum n), pi' = softmax(logits+q)
    (the visit counts track the improved policy pi')."""
    visits = _cols(view.visits)
    probs = _softmax([p + q for p, q in
                      zip(_cols(view.prior_logits), _cols(qvalues), strict=True)])
    total = _sum(visits)
    return _argmax([p - n / (1 + total) for p, n in zip(probs, visits, strict=True)])


def considered_scores(considered_visit: jax.Array, gumbel: jax.Array, logits: jax.Array,
                      qvalues: jax.Array, visits: jax.Array) -> jax.Array:
    """[B, A] g + logits + q for actions still in the sequential-halving race (visited exactly
    `considered_visit` [B] times), -inf for the others."""
    logits = _cols(logits)
    top = _max(logits)
    visit = _node(considered_visit, logits)
    return _join([jnp.maximum(-1e9, g + (x - top) + q) + jnp.where(n == visit, 0.0, -jnp.inf)
                  for g, x, q, n in zip(_cols(gumbel), logits, _cols(qvalues), _cols(visits),
                                        strict=True)])


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
    "pick",
    "puct_scores",
    "q_by_parent_and_siblings",
    "q_by_tree",
    "row_max",
    "row_sum",
    "softmax",
]
