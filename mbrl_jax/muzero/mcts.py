"""Batched Monte-Carlo tree search over a learned model, as pure JAX functions.

    root = RootFnOutput(prior_logits=[B, A], value=[B], embedding=pytree [B, ...])
    def recurrent_fn(params, key, action [B], embedding) -> (RecurrentFnOutput, embedding)
    out = muzero_policy(params, key, root, recurrent_fn, num_simulations=50)
    out.action [B], out.action_weights [B, A] (visit distribution), out.search_tree.summary()

The interface follows mctx's policies, so a recurrent function written for mctx works here. The
tree is fixed-size arrays `[B, N, ...]` with N = num_simulations + 1 nodes (node 0 the root,
node s + 1 expanded by simulation s). The simulations are one `lax.scan`; each one, for the whole
batch at once, descends from the root (a loop over tree levels, all batch elements on the same
level, recording the path), expands the leaf with `recurrent_fn`, and backs the value up along the
recorded path (no gathers on the way up; inactive elements write out of bounds, which is dropped).

Two policies: `muzero_policy` (pUCT, c1 = 1.25, c2 = 19652, Dirichlet noise at the root, an action
sampled from visit counts with a temperature; Schrittwieser et al. 2020) and
`gumbel_muzero_policy` (Gumbel-top-k with sequential halving at the root, the improved policy as
the training target; Danihelka et al. 2022). Invalid-action masks apply at the root.

Q normalisation for pUCT: `q_normalisation="parent_and_siblings"` (per node, as mctx's default)
or `"tree"` (min-max over every Q backed up in the tree, as in the paper's pseudocode).
"""

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from mbrl_jax.muzero import selection as sel

UNVISITED = -1


class RootFnOutput(NamedTuple):
    """prior_logits: [B, A]; value: [B]; embedding: pytree with leaves [B, ...]."""

    prior_logits: jax.Array
    value: jax.Array
    embedding: Any


class RecurrentFnOutput(NamedTuple):
    """reward, discount, value: [B]; prior_logits: [B, A] (of the new state)."""

    reward: jax.Array
    discount: jax.Array
    prior_logits: jax.Array
    value: jax.Array


RecurrentFn = Callable[[Any, jax.Array, jax.Array, Any], tuple[RecurrentFnOutput, Any]]


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


class PolicyOutput(NamedTuple):
    """action [B] int32; action_weights [B, A] (the policy target); search_tree: `Tree`."""

    action: jax.Array
    action_weights: jax.Array
    search_tree: Tree


def _init_tree(root: RootFnOutput, num_nodes: int, invalid: jax.Array) -> Tree:
    batch, num_actions = root.prior_logits.shape
    dtype = root.value.dtype

    def nodes(x0, fill=0):  # [B, N, ...] filled with `fill`, node 0 = x0
        x0 = jnp.asarray(x0)
        full = jnp.full((batch, num_nodes, *x0.shape[1:]), fill, x0.dtype)
        return full.at[:, 0].set(x0)

    children = lambda fill, dt: jnp.full((batch, num_nodes, num_actions), fill, dt)  # noqa: E731
    return Tree(
        node_visits=nodes(jnp.ones((batch,), jnp.int32)),
        raw_values=nodes(root.value), node_values=nodes(root.value),
        parents=jnp.full((batch, num_nodes), -1, jnp.int32),
        action_from_parent=jnp.full((batch, num_nodes), -1, jnp.int32),
        children_index=children(UNVISITED, jnp.int32),
        children_prior_logits=nodes(root.prior_logits),
        children_visits=children(0, jnp.int32), children_rewards=children(0, dtype),
        children_discounts=children(0, dtype), children_values=children(0, dtype),
        embeddings=jax.tree.map(nodes, root.embedding),
        root_invalid_actions=invalid,
        q_min=jnp.full((batch,), jnp.inf, dtype), q_max=jnp.full((batch,), -jnp.inf, dtype))


class _Path(NamedTuple):
    """What the descent read on each level (columns = levels), for the backup."""

    node: jax.Array      # [B, D] int32
    action: jax.Array    # [B, D] int32
    count: jax.Array     # [B, D] int32 node visits
    value: jax.Array     # [B, D] node value
    reward: jax.Array    # [B, D] reward of the edge taken
    discount: jax.Array  # [B, D]
    child_visits: jax.Array  # [B, D] int32 visits of the edge taken


def _pick(x: jax.Array, action: jax.Array) -> jax.Array:
    """x[b, action[b]] for x [B, A] (a one-hot reduction, cheaper than a gather on [B, A])."""
    hot = jnp.arange(x.shape[-1]) == action[:, None]
    return jnp.sum(jnp.where(hot, x, 0), axis=-1).astype(x.dtype)


def _descend(tree: Tree, root_action, interior_select, max_depth: int):
    """Walk down from the root until an unexpanded edge (or `max_depth`), all elements level by
    level. Returns (path, levels [B] int32 edges taken, deepest level count, parent [B],
    action [B], next node [B] (-1 if new))."""
    batch = tree.node_visits.shape[0]
    depth = max_depth

    def record(path, k, node, view, action):
        columns = (node, action, view.node_visits, view.node_value, _pick(view.rewards, action),
                   _pick(view.discounts, action), _pick(view.visits, action))
        return _Path(*(buf.at[:, k].set(c) for buf, c in zip(path, columns, strict=True)))

    zeros_i = jnp.zeros((batch, depth), jnp.int32)
    zeros_f = jnp.zeros((batch, depth), tree.node_values.dtype)
    path = _Path(zeros_i, zeros_i, zeros_i, zeros_f, zeros_f, zeros_f, zeros_i)
    root_view = tree.view(0)
    action = root_action(root_view)
    node = jnp.zeros((batch,), jnp.int32)
    path = record(path, 0, node, root_view, action)
    nxt = _pick(root_view.index, action)
    active = (nxt != UNVISITED) & (1 < max_depth)
    levels = jnp.ones((batch,), jnp.int32)

    def cond(c):
        return jnp.any(c[4])

    def body(c):
        path, k, node, action, active, nxt, levels = c
        node = jnp.where(active, nxt, node)
        view = tree.view(node)
        new_action = interior_select(view, tree)
        action = jnp.where(active, new_action, action)
        path = record(path, k, node, view, action)
        child = _pick(view.index, action)
        nxt = jnp.where(active, child, nxt)
        levels = levels + active.astype(jnp.int32)
        active = active & (child != UNVISITED) & (k + 1 < max_depth)
        return path, k + 1, node, action, active, nxt, levels

    path, k, node, action, _, nxt, levels = jax.lax.while_loop(
        cond, body, (path, jnp.int32(1), node, action, active, nxt, levels))
    return path, levels, k, node, action, nxt


def _backup(tree: Tree, path: _Path, levels, num_levels, leaf_value, leaf_reward,
            leaf_discount) -> Tree:
    """Back `leaf_value` up the recorded path, deepest level first. Level `levels - 1`'s edge is
    the one just expanded: its reward and discount come from the expansion."""
    batch, num_nodes = tree.node_visits.shape
    rows = jnp.arange(batch)

    def body(i, c):
        tree, value, child_value = c
        k = num_levels - 1 - i
        active = k < levels
        col = lambda x: jax.lax.dynamic_index_in_dim(x, k, axis=1, keepdims=False)  # noqa: E731
        last = k == levels - 1
        reward = jnp.where(last, leaf_reward, col(path.reward))
        discount = jnp.where(last, leaf_discount, col(path.discount))
        count, node_value = col(path.count), col(path.value)
        value = jnp.where(active, reward + discount * value, value)
        parent_value = (node_value * count + value) / (count + 1.0)
        target = jnp.where(active, col(path.node), num_nodes)  # out of bounds: dropped
        action = col(path.action)
        q = reward + discount * child_value
        tree = tree.replace(
            node_values=tree.node_values.at[rows, target].set(parent_value, mode="drop"),
            node_visits=tree.node_visits.at[rows, target].set(count + 1, mode="drop"),
            children_values=tree.children_values.at[rows, target, action].set(
                child_value, mode="drop"),
            children_visits=tree.children_visits.at[rows, target, action].set(
                col(path.child_visits) + 1, mode="drop"),
            q_min=jnp.where(active, jnp.minimum(tree.q_min, q), tree.q_min),
            q_max=jnp.where(active, jnp.maximum(tree.q_max, q), tree.q_max))
        return tree, value, jnp.where(active, parent_value, child_value)

    tree, _, _ = jax.lax.fori_loop(0, num_levels, body, (tree, leaf_value, leaf_value))
    return tree


def search(params, key: jax.Array, root: RootFnOutput, recurrent_fn: RecurrentFn,
           num_simulations: int, root_action: Callable, interior_select: Callable,
           invalid_actions: jax.Array | None = None, max_depth: int | None = None) -> Tree:
    """Run `num_simulations` simulations for the whole batch (one `lax.scan`).

    root_action: `(NodeView of the root, tree) -> [B]` action at the root;
    interior_select: `(NodeView, tree) -> [B]` action below it. Node s + 1 is created by
    simulation s (or, past `max_depth`, the existing leaf is re-evaluated, as in mctx).
    `key` is split once into one key per simulation for `recurrent_fn`.
    """
    batch, num_actions = root.prior_logits.shape
    max_depth = num_simulations if max_depth is None else max_depth
    if invalid_actions is None:
        invalid_actions = jnp.zeros((batch, num_actions), root.prior_logits.dtype)
    tree = _init_tree(root, num_simulations + 1, invalid_actions)
    rows = jnp.arange(batch)
    always_new = max_depth >= num_simulations  # then the new node of simulation s is s + 1

    def simulate(tree, xs):
        sim, sim_key = xs
        path, levels, num_levels, parent, action, nxt = _descend(
            tree, lambda v: root_action(v, tree), interior_select, max_depth)
        embedding = jax.tree.map(lambda x: x[rows, parent], tree.embeddings)
        out, embedding = recurrent_fn(params, sim_key, action, embedding)
        if always_new:
            new = jnp.full((batch,), sim + 1, jnp.int32)
            write = lambda x, v: jax.lax.dynamic_update_index_in_dim(  # noqa: E731
                x, v.astype(x.dtype), sim + 1, axis=1)
        else:
            new = jnp.where(nxt == UNVISITED, sim + 1, nxt)
            write = lambda x, v: x.at[rows, new].set(v.astype(x.dtype))  # noqa: E731
        visits = tree.node_visits[rows, new] + 1 if not always_new else jnp.ones_like(new)
        tree = tree.replace(
            node_visits=write(tree.node_visits, visits),
            raw_values=write(tree.raw_values, out.value),
            node_values=write(tree.node_values, out.value),
            children_prior_logits=write(tree.children_prior_logits, out.prior_logits),
            parents=write(tree.parents, parent),
            action_from_parent=write(tree.action_from_parent, action),
            embeddings=jax.tree.map(write, tree.embeddings, embedding),
            children_index=tree.children_index.at[rows, parent, action].set(new),
            children_rewards=tree.children_rewards.at[rows, parent, action].set(out.reward),
            children_discounts=tree.children_discounts.at[rows, parent, action].set(
                out.discount))
        tree = _backup(tree, path, levels, num_levels, out.value, out.reward, out.discount)
        return tree, None

    sims = (jnp.arange(num_simulations, dtype=jnp.int32), jax.random.split(key, num_simulations))
    tree, _ = jax.lax.scan(simulate, tree, sims)
    return tree


def _mask_logits(logits: jax.Array, invalid: jax.Array | None) -> jax.Array:
    """Shift so the max logit is 0; invalid actions get the lowest finite logit."""
    logits = logits - jnp.max(logits, axis=-1, keepdims=True)
    if invalid is None:
        return logits
    return jnp.where(invalid, jnp.finfo(logits.dtype).min, logits)


def _logits_of(probs: jax.Array) -> jax.Array:
    return jnp.log(jnp.maximum(probs, jnp.finfo(probs.dtype).tiny))


def muzero_policy(params, key: jax.Array, root: RootFnOutput, recurrent_fn: RecurrentFn,
                  num_simulations: int, invalid_actions: jax.Array | None = None,
                  max_depth: int | None = None, *, q_normalisation: str = "parent_and_siblings",
                  dirichlet_fraction: float = 0.25, dirichlet_alpha: float = 0.3,
                  pb_c_init: float = 1.25, pb_c_base: float = 19652.0,
                  temperature: float = 1.0) -> PolicyOutput:
    """MuZero's search: pUCT selection, Dirichlet noise on the root prior, an action sampled from
    the root visit counts ** (1 / temperature).

    Args:
      params: passed to `recurrent_fn` unchanged.
      key: consumed as mctx's `muzero_policy` does (same key, same noise and sampled action).
      root: the root's prediction and embedding, batch B.
      recurrent_fn: `(params, key, action [B], embedding) -> (RecurrentFnOutput, embedding)`.
      num_simulations: simulations (and new nodes) per search.
      invalid_actions: optional [B, A], nonzero = never chosen at the root.
      max_depth: deepest edge a simulation follows (default num_simulations).
      q_normalisation: "parent_and_siblings" (per node, mctx's default) or "tree" (min-max over
        all Qs backed up in the tree, the paper's).
      dirichlet_fraction, dirichlet_alpha: root noise P = (1 - f) P + f Dir(alpha).
      pb_c_init, pb_c_base: pUCT's c1 and c2.
      temperature: of the action sampled from visit counts (0 = most visited).

    Returns:
      PolicyOutput: action [B], action_weights [B, A] (the visit distribution), search_tree.
    """
    if q_normalisation not in ("parent_and_siblings", "tree"):
        raise ValueError(f"q_normalisation must be 'parent_and_siblings' or 'tree', "
                         f"got {q_normalisation!r}")
    key, noise_key, search_key = jax.random.split(key, 3)
    batch, num_actions = root.prior_logits.shape
    noise = jax.random.dirichlet(noise_key, jnp.full((num_actions,), dirichlet_alpha),
                                 shape=(batch,))
    probs = jax.nn.softmax(root.prior_logits)
    noisy = (1 - dirichlet_fraction) * probs + dirichlet_fraction * noise
    root = root._replace(prior_logits=_mask_logits(_logits_of(noisy), invalid_actions))

    def scores(view: sel.NodeView, tree: Tree) -> jax.Array:
        if q_normalisation == "tree":
            q = sel.q_by_tree(view, tree.q_min, tree.q_max)
        else:
            q = sel.q_by_parent_and_siblings(view)
        return sel.puct_scores(view, q, pb_c_init, pb_c_base)

    tree = search(
        params, search_key, root, recurrent_fn, num_simulations,
        root_action=lambda v, t: sel.masked_argmax(scores(v, t), t.root_invalid_actions),
        interior_select=lambda v, t: sel.masked_argmax(scores(v, t), None),
        invalid_actions=invalid_actions, max_depth=max_depth)
    weights = tree.summary().visit_probs
    logits = _logits_of(weights)
    logits = logits - jnp.max(logits, axis=-1, keepdims=True)
    logits = logits / jnp.maximum(jnp.finfo(logits.dtype).tiny, temperature)
    action = jax.random.categorical(key, logits).astype(jnp.int32)
    return PolicyOutput(action, weights, tree)


def gumbel_muzero_policy(params, key: jax.Array, root: RootFnOutput, recurrent_fn: RecurrentFn,
                         num_simulations: int, invalid_actions: jax.Array | None = None,
                         max_depth: int | None = None, *, max_num_considered_actions: int = 16,
                         gumbel_scale: float = 1.0, value_scale: float = 0.1,
                         maxvisit_init: float = 50.0) -> PolicyOutput:
    """Gumbel MuZero (Danihelka et al. 2022): Gumbel-top-k actions raced by sequential halving at
    the root, deterministic selection of the improved policy below it.

    Args: as `muzero_policy`, plus
      max_num_considered_actions: k, the actions sampled without replacement at the root.
      gumbel_scale: scale of the Gumbel noise (0 = deterministic).
      value_scale, maxvisit_init: sigma(q) = (maxvisit_init + max n) * value_scale * q.

    Returns:
      PolicyOutput: action [B] (the race's winner), action_weights [B, A] = the improved policy
      softmax(logits + sigma(completed Q)), the training target; search_tree.
    """
    root = root._replace(prior_logits=_mask_logits(root.prior_logits, invalid_actions))
    key, gumbel_key = jax.random.split(key)
    gumbel = gumbel_scale * jax.random.gumbel(gumbel_key, root.prior_logits.shape,
                                              root.prior_logits.dtype)
    table = jnp.array(sel.considered_visits_table(max_num_considered_actions, num_simulations),
                      jnp.int32)
    q_fn = functools.partial(sel.completed_q, value_scale=value_scale,
                             maxvisit_init=maxvisit_init)

    def root_action(view: sel.NodeView, tree: Tree) -> jax.Array:
        invalid = tree.root_invalid_actions
        num_valid = jnp.sum(1 - invalid, axis=-1).astype(jnp.int32)
        considered = jnp.minimum(max_num_considered_actions, num_valid)
        sim = jnp.sum(view.visits, axis=-1)
        visit = table[considered, sim][:, None]
        score = sel.considered_scores(visit, gumbel, view.prior_logits, q_fn(view),
                                      view.visits)
        return sel.masked_argmax(score, invalid)

    tree = search(params, key, root, recurrent_fn, num_simulations, root_action=root_action,
                  interior_select=lambda v, t: sel.gumbel_interior_action(v, q_fn(v)),
                  invalid_actions=invalid_actions, max_depth=max_depth)
    view = tree.view(0)
    q = q_fn(view)
    most = jnp.max(view.visits, axis=-1, keepdims=True)
    score = sel.considered_scores(most, gumbel, root.prior_logits, q, view.visits)
    action = sel.masked_argmax(score, invalid_actions)
    weights = jax.nn.softmax(_mask_logits(root.prior_logits + q, invalid_actions))
    return PolicyOutput(action, weights, tree)


__all__ = [
    "PolicyOutput",
    "RecurrentFn",
    "RecurrentFnOutput",
    "RootFnOutput",
    "SearchSummary",
    "Tree",
    "gumbel_muzero_policy",
    "muzero_policy",
    "search",
]
