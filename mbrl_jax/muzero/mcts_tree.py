"""The search tree's storage: one packed row of floats per node, and the public `Tree` view.

Each node is one row of F = 6A + 5 numbers (A actions):

    [ child visits (A) | child prior logits (A) | child values (A) | edge rewards (A) |
      edge discounts (A) | child node index (A, -1 = unexpanded) |
      node visits | node value | raw value | parent | action from parent ]

stored batch-major as `data [B * N, F]` (node n of batch element b in row b * N + n). A step of
the descent then reads everything it needs about a node with ONE row gather per batch element,
and a step of the backup writes it back with one row scatter: on CPU the cost of XLA's gathers and
scatters grows with the number of indices, not with the row width, so one F-wide row beats nine
separate `[B, N, A]` / `[B, N]` arrays (mctx's layout). Counts and indices are stored as floats
(exact below 2**24). `unpack` turns the rows into the `Tree` of separate arrays at the end.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from mbrl_jax.muzero import selection as sel

UNVISITED = -1
VISITS, PRIOR, VALUES, REWARDS, DISCOUNTS, INDEX = range(6)  # blocks of A columns
NODE_VISITS, NODE_VALUE, RAW_VALUE, PARENT, ACTION = range(5)  # then 5 columns per node


def width(num_actions: int) -> int:
    """F, the columns of a node row."""
    return 6 * num_actions + 5


def node_col(num_actions: int, field: int) -> int:
    """Column of a per-node field (NODE_VISITS ... ACTION)."""
    return 6 * num_actions + field


class SearchSummary(NamedTuple):
    """Root statistics: visit_counts, visit_probs, qvalues [B, A]; value [B]."""

    visit_counts: jax.Array
    visit_probs: jax.Array
    value: jax.Array
    qvalues: jax.Array


@struct.dataclass
class Tree:
    """The search tree, batch first. N = num_simulations + 1 nodes, A actions.

    node_visits [B, N] int32; raw_values, node_values [B, N]; parents, action_from_parent [B, N]
    int32 (-1 at the root); children_index [B, N, A] int32 (-1 = unexpanded);
    children_prior_logits, children_values, children_rewards, children_discounts [B, N, A];
    children_visits [B, N, A] int32; embeddings: pytree [B, N, ...]; root_invalid_actions
    [B, A]; q_min, q_max [B]: range of all backed-up Qs (for the tree-wide normalisation).
    """

    node_visits: jax.Array
    raw_values: jax.Array
    node_values: jax.Array
    parents: jax.Array
    action_from_parent: jax.Array
    children_index: jax.Array
    children_prior_logits: jax.Array
    children_visits: jax.Array
    children_rewards: jax.Array
    children_discounts: jax.Array
    children_values: jax.Array
    embeddings: Any
    root_invalid_actions: jax.Array
    q_min: jax.Array
    q_max: jax.Array

    def view(self, node: jax.Array | int) -> sel.NodeView:
        """`NodeView` of node `node` ([B] int32, or a Python int for the same node everywhere)."""
        if isinstance(node, int):
            take = lambda x: x[:, node]  # noqa: E731  (a static slice, no gather)
        else:
            rows = jnp.arange(node.shape[0])
            take = lambda x: x[rows, node]  # noqa: E731
        return sel.NodeView(
            visits=take(self.children_visits), prior_logits=take(self.children_prior_logits),
            values=take(self.children_values), rewards=take(self.children_rewards),
            discounts=take(self.children_discounts), index=take(self.children_index),
            node_visits=take(self.node_visits), node_value=take(self.node_values),
            raw_value=take(self.raw_values))

    def summary(self) -> SearchSummary:
        """Statistics of the root (mctx's `Tree.summary`)."""
        root = self.view(0)
        counts = root.visits.astype(root.node_value.dtype)
        total = jnp.sum(counts, axis=-1, keepdims=True)
        probs = jnp.where(total > 0, counts / jnp.maximum(total, 1), 1.0 / counts.shape[-1])
        return SearchSummary(counts, probs, root.node_value, root.qvalues)


def empty_rows(batch: int, num_actions: int, dtype) -> jax.Array:
    """[B, F] rows of unexpanded nodes: no visits, no children (index -1), parent -1."""
    zeros = jnp.zeros((batch, 5 * num_actions), dtype)
    minus1 = jnp.full((batch, num_actions), UNVISITED, dtype)
    node = jnp.array([0, 0, 0, UNVISITED, UNVISITED], dtype)
    return jnp.concatenate([zeros, minus1, jnp.broadcast_to(node, (batch, 5))], axis=-1)


def expanded_rows(base: jax.Array, prior_logits: jax.Array, visits, value, parent,
                  action) -> jax.Array:
    """[B, F] `base` rows with the prior block ([B, A]) and the per-node numbers ([B] each;
    raw and mean value both `value`) replaced; the child blocks kept."""
    num_actions = prior_logits.shape[-1]
    dtype = base.dtype
    node = jnp.stack([jnp.asarray(x).astype(dtype) for x in (visits, value, value, parent,
                                                               action)], axis=-1)
    return jnp.concatenate([base[:, :num_actions], prior_logits.astype(dtype),
                            base[:, 2 * num_actions:6 * num_actions], node], axis=-1)


def init_data(prior_logits: jax.Array, value: jax.Array, num_nodes: int, dtype) -> jax.Array:
    """[B * N, F]: node 0 is the root (1 visit), the others empty."""
    batch, num_actions = prior_logits.shape
    empty = empty_rows(batch, num_actions, dtype)
    minus1 = jnp.full((batch,), UNVISITED)
    root = expanded_rows(empty, prior_logits, jnp.ones((batch,)), value, minus1, minus1)
    data = jnp.broadcast_to(empty[:, None], (batch, num_nodes, empty.shape[-1]))
    return data.at[:, 0].set(root).reshape(batch * num_nodes, -1)


def view(row: jax.Array, num_actions: int) -> sel.NodeView:
    """`NodeView` of rows [B, F]."""
    block = lambda i: row[:, i * num_actions:(i + 1) * num_actions]  # noqa: E731
    col = lambda f: row[:, node_col(num_actions, f)]  # noqa: E731
    return sel.NodeView(
        visits=block(VISITS).astype(jnp.int32), prior_logits=block(PRIOR),
        values=block(VALUES), rewards=block(REWARDS), discounts=block(DISCOUNTS),
        index=block(INDEX).astype(jnp.int32), node_visits=col(NODE_VISITS).astype(jnp.int32),
        node_value=col(NODE_VALUE), raw_value=col(RAW_VALUE))


def unpack(data: jax.Array, batch: int, embeddings, root_invalid_actions: jax.Array,
           q_min: jax.Array, q_max: jax.Array, value_dtype, logits_dtype) -> Tree:
    """The `Tree` of separate arrays held in `data [B * N, F]`."""
    rows = data.reshape(batch, -1, data.shape[-1])
    num_actions = (rows.shape[-1] - 5) // 6
    block = lambda i: rows[..., i * num_actions:(i + 1) * num_actions]  # noqa: E731
    col = lambda f: rows[..., node_col(num_actions, f)]  # noqa: E731
    i32 = lambda x: x.astype(jnp.int32)  # noqa: E731
    val = lambda x: x.astype(value_dtype)  # noqa: E731
    return Tree(
        node_visits=i32(col(NODE_VISITS)), raw_values=val(col(RAW_VALUE)),
        node_values=val(col(NODE_VALUE)), parents=i32(col(PARENT)),
        action_from_parent=i32(col(ACTION)), children_index=i32(block(INDEX)),
        children_prior_logits=block(PRIOR).astype(logits_dtype),
        children_visits=i32(block(VISITS)), children_rewards=val(block(REWARDS)),
        children_discounts=val(block(DISCOUNTS)), children_values=val(block(VALUES)),
        embeddings=embeddings, root_invalid_actions=root_invalid_actions,
        q_min=val(q_min), q_max=val(q_max))
