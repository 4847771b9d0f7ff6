"""The batched search against mctx (the oracle), a hand-worked tree, and a bandit."""

import jax
import jax.numpy as jnp
import mctx
import numpy as np
import pytest

from mbrl_jax.muzero import mcts
from mbrl_jax.muzero import selection as sel
from tests.muzero.search_fixtures import make_model, make_root, recurrent_fn


def _mctx_recurrent(params, key, action, embedding):
    out, embedding = recurrent_fn(params, key, action, embedding)
    return mctx.RecurrentFnOutput(**out._asdict()), embedding


def _mctx_root(root):
    return mctx.RootFnOutput(**root._asdict())


def _invalid(key, batch, num_actions):
    invalid = jax.random.uniform(key, (batch, num_actions)) < 0.4
    return invalid.at[:, 0].set(False).astype(jnp.float32)  # at least one valid action


CASES = [  # batch, actions, simulations, masked, max_depth
    (24, 5, 20, True, None),
    (9, 6, 12, True, 3),   # depth cut-off: leaves re-expanded
]


@pytest.mark.parametrize("batch,num_actions,sims,masked,max_depth", CASES)
def test_muzero_policy_matches_mctx(batch, num_actions, sims, masked, max_depth):
    params = make_model(jax.random.key(batch), num_actions)
    root = make_root(params, jax.random.key(100 + batch), batch)
    invalid = _invalid(jax.random.key(5), batch, num_actions) if masked else None
    key = jax.random.key(11)
    ours = jax.jit(lambda k: mcts.muzero_policy(
        params, k, root, recurrent_fn, sims, invalid, max_depth))(key)
    ref = jax.jit(lambda k: mctx.muzero_policy(
        params, k, _mctx_root(root), _mctx_recurrent, sims, invalid, max_depth))(key)
    np.testing.assert_array_equal(ours.search_tree.children_visits,
                                  ref.search_tree.children_visits)
    np.testing.assert_allclose(ours.action_weights, ref.action_weights, atol=1e-6)
    np.testing.assert_allclose(ours.search_tree.node_values, ref.search_tree.node_values,
                               rtol=1e-5, atol=1e-5)
    for field in ("node_visits", "parents", "action_from_parent", "children_index"):
        np.testing.assert_array_equal(getattr(ours.search_tree, field),
                                      getattr(ref.search_tree, field), err_msg=field)
    np.testing.assert_array_equal(ours.action, ref.action)
    if masked:
        assert not np.any(np.asarray(ours.search_tree.children_visits[:, 0]) * np.asarray(invalid))


# Gumbel: with 12 actions and k = 16, 7-12 actions are considered, so sequential halving runs
# three or four rounds (8 -> 4 -> 2 survivors), each with its own visit budget.
@pytest.mark.parametrize("batch,num_actions,sims,masked,max_depth,k",
                         [c + (4,) for c in CASES] + [(6, 12, 40, True, None, 16)])
def test_gumbel_policy_matches_mctx(batch, num_actions, sims, masked, max_depth, k):
    params = make_model(jax.random.key(batch + 1), num_actions)
    root = make_root(params, jax.random.key(200 + batch), batch)
    invalid = _invalid(jax.random.key(6), batch, num_actions) if masked else None
    key = jax.random.key(12)
    kw = dict(max_num_considered_actions=k)
    ours = jax.jit(lambda k: mcts.gumbel_muzero_policy(
        params, k, root, recurrent_fn, sims, invalid, max_depth, **kw))(key)
    ref = jax.jit(lambda k: mctx.gumbel_muzero_policy(
        params, k, _mctx_root(root), _mctx_recurrent, sims, invalid, max_depth, **kw))(key)
    np.testing.assert_array_equal(ours.search_tree.children_visits,
                                  ref.search_tree.children_visits)
    np.testing.assert_allclose(ours.action_weights, ref.action_weights, atol=1e-6)
    np.testing.assert_allclose(ours.search_tree.node_values[:, 0],
                               ref.search_tree.node_values[:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ours.action, ref.action)


@pytest.mark.slow  # two more mctx compilations (~10 s on 2 cores)
@pytest.mark.parametrize("policy", ["muzero", "gumbel"])
def test_wide_action_path_matches_mctx(policy, monkeypatch):
    # Above sel.UNROLL actions, selection uses jnp's reductions and [B, 1] broadcasting instead
    # of per-action columns: pin that path too (UNROLL lowered to 2 so 5 actions take it).
    monkeypatch.setattr(sel, "UNROLL", 2)
    batch, num_actions, sims = 5, 5, 10
    params = make_model(jax.random.key(7), num_actions)
    root = make_root(params, jax.random.key(8), batch)
    invalid = _invalid(jax.random.key(9), batch, num_actions)
    ours_fn = mcts.muzero_policy if policy == "muzero" else mcts.gumbel_muzero_policy
    ref_fn = mctx.muzero_policy if policy == "muzero" else mctx.gumbel_muzero_policy
    key = jax.random.key(13)
    ours = ours_fn(params, key, root, recurrent_fn, sims, invalid)
    ref = ref_fn(params, key, _mctx_root(root), _mctx_recurrent, sims, invalid)
    np.testing.assert_array_equal(ours.search_tree.children_visits,
                                  ref.search_tree.children_visits)
    np.testing.assert_allclose(ours.action_weights, ref.action_weights, atol=1e-6)
    np.testing.assert_array_equal(ours.action, ref.action)


def test_action_axis_helpers_match_numpy():
    # Integer scores in {0, 1, 2} over 5 actions: many ties, which must go to the lowest index
    # (as np.argmax and mctx). Oracles: numpy's argmax, take_along_axis, max, sum.
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, (64, 5)).astype(np.float32)
    invalid = rng.random((64, 5)) < 0.3
    action = rng.integers(0, 5, 64)
    np.testing.assert_array_equal(sel.masked_argmax(jnp.asarray(scores), None),
                                  np.argmax(scores, axis=-1))
    np.testing.assert_array_equal(sel.masked_argmax(jnp.asarray(scores), jnp.asarray(invalid)),
                                  np.argmax(np.where(invalid, -np.inf, scores), axis=-1))
    np.testing.assert_array_equal(sel.pick(jnp.asarray(scores), jnp.asarray(action)),
                                  np.take_along_axis(scores, action[:, None], axis=-1)[:, 0])
    np.testing.assert_array_equal(sel.row_max(jnp.asarray(scores)), scores.max(axis=-1))
    np.testing.assert_array_equal(sel.row_sum(jnp.asarray(scores)), scores.sum(axis=-1))


def _hand_view():
    # Root visited 3 times (itself + 2 simulations), value 0.5; children visits [1, 1, 0];
    # rewards [0, 1, 0], discounts [1, 0.5, 0], child values [0.2, 0.4, 0]; prior [.5, .3, .2].
    return sel.NodeView(
        visits=jnp.array([[1, 1, 0]], jnp.int32), prior_logits=jnp.log(jnp.array([[.5, .3, .2]])),
        values=jnp.array([[0.2, 0.4, 0.0]]), rewards=jnp.array([[0.0, 1.0, 0.0]]),
        discounts=jnp.array([[1.0, 0.5, 0.0]]), index=jnp.array([[1, 2, -1]], jnp.int32),
        node_visits=jnp.array([3], jnp.int32), node_value=jnp.array([0.5]),
        raw_value=jnp.array([0.1]))


def test_puct_scores_by_hand():
    view = _hand_view()
    # Q = r + gamma v = [0.2, 1 + 0.5 * 0.4 = 1.2, (unvisited)].
    # Per node: lo = min(0.5, 0.2) = 0.2, hi = max(0.5, 1.2) = 1.2 -> [0, 1, 0 (lo)].
    q_node = sel.q_by_parent_and_siblings(view)
    np.testing.assert_allclose(q_node, [[0.0, 1.0, 0.0]], atol=1e-6)
    # pb_c = 1.25 + log((3 + 19652 + 1) / 19652) = 1.25020351; sqrt(3) * pb_c = 2.16541597;
    # exploration = 2.16541597 * [0.5 / 2, 0.3 / 2, 0.2 / 1] = [0.54135399, 0.32481240, 0.43308319]
    scores = sel.puct_scores(view, q_node, 1.25, 19652.0)
    np.testing.assert_allclose(scores, [[0.54135399, 1.32481240, 0.43308319]], rtol=1e-5)
    # Tree-wide range [-0.3, 1.7]: (0.2 + 0.3) / 2 = 0.25, (1.2 + 0.3) / 2 = 0.75, unvisited 0.
    q_tree = sel.q_by_tree(view, jnp.array([-0.3]), jnp.array([1.7]))
    np.testing.assert_allclose(q_tree, [[0.25, 0.75, 0.0]], rtol=1e-6)
    scores = sel.puct_scores(view, q_tree, 1.25, 19652.0)
    np.testing.assert_allclose(scores, [[0.79135399, 1.07481240, 0.43308319]], rtol=1e-5)
    assert int(sel.masked_argmax(scores, jnp.array([[0, 1, 0]]))[0]) == 0


def _chain_fn(params, key, action, embedding):
    # Reward 1 for action 1, 0 for action 0; discount 0.5; value 2; prior favours action 1.
    del params, key
    batch = action.shape[0]
    out = mcts.RecurrentFnOutput(
        reward=action.astype(jnp.float32), discount=jnp.full((batch,), 0.5),
        prior_logits=jnp.tile(jnp.array([[0.0, 1.0]]), (batch, 1)), value=jnp.full((batch,), 2.0))
    return out, embedding


@pytest.mark.parametrize("q_normalisation", ["parent_and_siblings", "tree"])
def test_backup_by_hand(q_normalisation):
    root = mcts.RootFnOutput(prior_logits=jnp.log(jnp.array([[0.6, 0.4]])),
                             value=jnp.zeros((1,)), embedding=jnp.zeros((1, 1)))
    out = mcts.muzero_policy(None, jax.random.key(0), root, _chain_fn, 2,
                             q_normalisation=q_normalisation, dirichlet_fraction=0.0)
    tree = out.search_tree
    # Sim 0: all unvisited, prior picks a=0 -> node 1 (r 0, v 2). Backup: G = 0 + 0.5 * 2 = 1;
    #   root value (0 * 1 + 1) / 2 = 0.5; Q(root, 0) = 1.
    # Sim 1 (per node): Q = [1, -], lo 0.5, hi 1 -> [1, 0]; sqrt(2) pb_c ~ 1.4142 * 1.25015 ->
    #   [1 + 1.768 * 0.6 / 2, 0 + 1.768 * 0.4] = [1.53, 0.71] -> a=0 again (tree mode: range
    #   [1, 1] is empty so raw Q = 1, same choice). Node 1: children unvisited, prior [.27, .73]
    #   -> a=1 -> node 2 (r 1, v 2). Backup: G = 1 + 0.5 * 2 = 2, node 1 value (2 * 1 + 2) / 2 = 2;
    #   G = 0 + 0.5 * 2 = 1, root value (0.5 * 2 + 1) / 3 = 2/3; child value of (root, 0) = 2.
    np.testing.assert_allclose(tree.node_values[0], [2 / 3, 2.0, 2.0], rtol=1e-6)
    np.testing.assert_array_equal(tree.node_visits[0], [3, 2, 1])
    np.testing.assert_array_equal(tree.children_visits[0, :2], [[2, 0], [0, 1]])
    np.testing.assert_allclose(tree.children_values[0, :2], [[2.0, 0.0], [0.0, 2.0]])
    np.testing.assert_array_equal(tree.parents[0], [-1, 0, 1])
    # Backed-up Qs: (root, 0): 0 + 0.5 * 2 = 1 twice; (node 1, 1): 1 + 0.5 * 2 = 2.
    np.testing.assert_allclose([tree.q_min[0], tree.q_max[0]], [1.0, 2.0])


def _bandit_fn(params, key, action, embedding):
    del params, key
    means = jnp.array([0.1, 0.5, 0.9, 0.3])
    batch = action.shape[0]
    out = mcts.RecurrentFnOutput(reward=means[action], discount=jnp.zeros((batch,)),
                                 prior_logits=jnp.zeros((batch, 4)), value=jnp.zeros((batch,)))
    return out, embedding


@pytest.mark.parametrize("policy", ["muzero", "muzero-tree", "gumbel"])
def test_bandit_best_arm(policy):
    batch = 8
    root = mcts.RootFnOutput(prior_logits=jnp.zeros((batch, 4)), value=jnp.zeros((batch,)),
                             embedding=jnp.zeros((batch, 1)))
    key = jax.random.key(3)
    if policy == "gumbel":
        out = mcts.gumbel_muzero_policy(None, key, root, _bandit_fn, 16)
        assert np.all(np.asarray(out.action) == 2)
        assert np.all(np.argmax(out.action_weights, axis=-1) == 2)
    else:
        qn = "tree" if policy == "muzero-tree" else "parent_and_siblings"
        out = mcts.muzero_policy(None, key, root, _bandit_fn, 40, q_normalisation=qn,
                                 temperature=0.0, dirichlet_fraction=0.0)
        assert np.all(np.argmax(out.action_weights, axis=-1) == 2)
        assert np.all(np.asarray(out.action) == 2)
    np.testing.assert_allclose(out.search_tree.summary().qvalues[:, 2], 0.9, rtol=1e-6)


@pytest.mark.parametrize("search, ours", [
    ("muzero", mcts.muzero_policy),
    pytest.param("gumbel", mcts.gumbel_muzero_policy, marks=pytest.mark.slow),  # compile-bound
])
def test_the_agent_takes_mctx_as_a_drop_in_search(search, ours):
    """`make_agent(..., search=mctx...)`: the agent's act with mctx's search equals it with ours
    (no noise: explore=False), on the agent's own networks and a random batch of Catch boards."""
    from mbrl_jax.muzero import MuZeroConfig, make_agent

    config = MuZeroConfig.tiny(search=search, num_simulations=4)
    theirs = {"muzero": mctx.muzero_policy, "gumbel": mctx.gumbel_muzero_policy}[search]
    mine = make_agent(config, (10, 5), 3, search=ours)
    other = make_agent(config, (10, 5), 3, search=theirs)
    params = mine.init(jax.random.key(0)).params
    params = jax.tree.map(lambda x: x + 0.3 * jax.random.normal(jax.random.key(1), x.shape),
                          params)  # non-trivial priors and values
    obs = jax.random.bernoulli(jax.random.key(2), 0.2, (4, 10, 5)).astype(jnp.float32)
    hp = config.hparams()
    args = (params, obs, jax.random.key(3), hp, jnp.float32(0.0), False)
    a1, w1, v1 = jax.jit(mine.act, static_argnums=5)(*args)
    a2, w2, v2 = jax.jit(other.act, static_argnums=5)(*args)
    np.testing.assert_allclose(w1, w2, atol=1e-5)
    np.testing.assert_allclose(v1, v2, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(a1, a2)
    assert len({tuple(np.round(w, 3)) for w in np.asarray(w1)}) > 1  # the boards differ
