"""Dyna's table updates against a plain numpy reference and hand-worked numbers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import dyna
from mbrl_jax.dyna.agent import PlanningBatch

ALPHA, GAMMA = 0.5, 0.9


def numpy_dyna_reference(num_states, num_actions, transitions, planning_draws):
    """Textbook Dyna-Q with a dict model. After real transition i, the planning pairs in
    planning_draws[i] are replayed from the model in order."""
    q = np.zeros((num_states, num_actions))
    model = {}
    for (s, a, r, s2, term), draws in zip(transitions, planning_draws, strict=True):
        q[s, a] += ALPHA * (r + (0 if term else GAMMA * q[s2].max()) - q[s, a])
        model[(s, a)] = (r, s2, term)
        for ps, pa in draws:
            pr, ps2, pterm = model[(ps, pa)]
            q[ps, pa] += ALPHA * (pr + (0 if pterm else GAMMA * q[ps2].max()) - q[ps, pa])
    return q


def run_jax(num_states, num_actions, transitions, planning_draws):
    state = dyna.init_state(num_states, num_actions)
    hp = dyna.DynaConfig(alpha=ALPHA, gamma=GAMMA, kappa=0.0).hparams()
    config = dyna.DynaConfig()
    for step, ((s, a, r, s2, term), draws) in enumerate(
            zip(transitions, planning_draws, strict=True), start=1):
        q = dyna.q_learning_update(state.q, s, a, jnp.float32(r), 0.0 if term else GAMMA, s2,
                                   ALPHA)
        model = dyna.update_model(state.model, s, a, jnp.float32(r), s2, jnp.bool_(term), step)
        if draws:
            ps, pa = (jnp.asarray(x, jnp.int32) for x in zip(*draws, strict=True))
            q = dyna.plan(q, dyna.planning_batch(model, ps, pa, step, hp, config), ALPHA)
        state = dyna.DynaState(q=q, model=model, step=jnp.int32(step))
    return state


def test_hand_fed_sequence_matches_numpy_reference():
    # A 4-state chain with a terminal reward, revisited pairs and a stochastic-looking overwrite.
    transitions = [
        (0, 1, 0.0, 1, False), (1, 1, 0.0, 2, False), (2, 1, 1.0, 3, True),
        (0, 1, 0.0, 1, False), (1, 0, -0.5, 0, False), (1, 1, 0.0, 2, False),
        (2, 1, 2.0, 3, True),  # model entry for (2,1) overwritten with reward 2
        (0, 0, 0.0, 0, False),
    ]
    draws = [
        [(0, 1)], [(1, 1), (0, 1)], [(2, 1), (1, 1), (0, 1), (2, 1)], [],
        [(1, 0), (1, 0), (0, 1)], [(2, 1)], [(2, 1), (1, 1), (1, 0)], [(0, 0), (0, 1), (1, 1)],
    ]
    expected = numpy_dyna_reference(4, 2, transitions, draws)
    state = run_jax(4, 2, transitions, draws)
    np.testing.assert_allclose(np.asarray(state.q), expected, rtol=1e-6, atol=1e-7)
    assert np.count_nonzero(expected) >= 5  # the sequence reaches most of the table


@pytest.mark.parametrize("variant, draw, kappa", [
    ("dyna-q", "state_then_action", 0.0), ("dyna-q", "observed_pair", 0.0),
    ("dyna-q+", "observed_pair", 0.0), ("dyna-q+", "observed_pair", 0.3),
    ("dyna-q+", "state_then_action", 0.3)])
def test_update_end_to_end_matches_numpy_reference(variant, draw, kappa):
    """`dyna.update` as a whole (direct update, model update, planning from the *updated* model
    with this step's key) against the numpy reference replaying the same planning pairs; with
    kappa > 0 this pins Dyna-Q+'s tau bookkeeping (real steps since the pair was last tried)."""
    config = dyna.DynaConfig(variant=variant, planning_draw=draw, planning_steps=4, alpha=ALPHA,
                             gamma=GAMMA, kappa=kappa)
    hp = config.hparams()
    transitions = [(0, 1, 0.0, 1, False), (1, 1, 0.0, 2, False), (2, 1, 1.0, 3, True),
                   (0, 0, 0.0, 0, False), (1, 0, -0.5, 0, False), (2, 0, 0.5, 1, False)]
    state = dyna.init_state(4, 2)
    draws = []
    for i, (s, a, r, s2, term) in enumerate(transitions):
        key = jax.random.key(i)
        state = dyna.update(state, s, a, jnp.float32(r), s2, jnp.bool_(term), key, hp, config)
        uniforms = jax.random.uniform(key, (4, dyna.agent.uniforms_per_draw(4, 2)))
        ps, pa = dyna.draw_pairs(state.model, uniforms, config)
        draws.append(list(zip(np.asarray(ps).tolist(), np.asarray(pa).tolist(), strict=True)))
    if variant == "dyna-q+":  # untried pairs are planned as self-loops with reward 0
        expected = numpy_dyna_reference_with_untried(4, 2, transitions, draws, kappa)
    else:
        expected = numpy_dyna_reference(4, 2, transitions, draws)
    np.testing.assert_allclose(np.asarray(state.q), expected, rtol=1e-6, atol=1e-7)
    assert int(state.step) == len(transitions)


def numpy_dyna_reference_with_untried(num_states, num_actions, transitions, planning_draws,
                                      kappa=0.0):
    """The reference with the book's footnote: an untried pair of a visited state stays put with
    reward 0; every planned reward gets kappa * sqrt(tau), tau = real steps since the pair was
    last tried (since step 0 if never)."""
    q = np.zeros((num_states, num_actions))
    model, last_tried = {}, {}
    for step, ((s, a, r, s2, term), draws) in enumerate(
            zip(transitions, planning_draws, strict=True), start=1):
        q[s, a] += ALPHA * (r + (0 if term else GAMMA * q[s2].max()) - q[s, a])
        model[(s, a)] = (r, s2, term)
        last_tried[(s, a)] = step
        visited = {ps for ps, _ in model}
        for ps, pa in draws:
            assert ps in visited
            pr, ps2, pterm = model.get((ps, pa), (0.0, ps, False))
            pr += kappa * np.sqrt(step - last_tried.get((ps, pa), 0))
            q[ps, pa] += ALPHA * (pr + (0 if pterm else GAMMA * q[ps2].max()) - q[ps, pa])
    return q


def test_model_records_last_outcome_and_lists():
    from mbrl_jax.dyna.agent import init_model
    m = init_model(3, 2)
    m = dyna.update_model(m, 1, 0, 0.5, 2, False, 1)
    m = dyna.update_model(m, 1, 1, 0.0, 0, False, 2)
    m = dyna.update_model(m, 1, 0, 0.7, 0, True, 3)  # overwrite, not a new pair
    m = dyna.update_model(m, 2, 1, 1.0, 2, True, 4)
    assert int(m.num_visited) == 2 and list(np.asarray(m.visited[:2])) == [1, 2]
    assert list(np.asarray(m.num_taken)) == [0, 2, 1]
    assert list(np.asarray(m.taken[1])) == [0, 1]
    assert int(m.num_pairs) == 3 and list(np.asarray(m.pairs[:3])) == [2, 3, 5]
    assert float(m.reward[1, 0]) == pytest.approx(0.7) and int(m.next_state[1, 0]) == 0
    assert bool(m.terminated[1, 0]) and not bool(m.terminated[1, 1])
    assert list(np.asarray(m.last_tried[1])) == [3, 2]


def _model_with(pairs):
    from mbrl_jax.dyna.agent import init_model
    m = init_model(5, 3)
    for step, (s, a) in enumerate(pairs, start=1):
        m = dyna.update_model(m, s, a, 1.0, (s + 1) % 5, False, step)
    return m


def _draw_counts(config, pairs, k=1, n=60_000):
    m = _model_with(pairs)
    u = jax.random.uniform(jax.random.key(0), (n, k))
    s, a = dyna.draw_pairs(m, u, config)
    counts = np.zeros((5, 3))
    np.add.at(counts, (np.asarray(s), np.asarray(a)), 1)
    return counts / n


PAIRS = [(0, 0), (0, 1), (0, 2), (3, 1)]  # state 0 has three tried actions, state 3 one


@pytest.mark.parametrize("k", [1, 2])
def test_book_draw_is_state_then_action(k):
    freq = _draw_counts(dyna.DynaConfig(planning_draw="state_then_action"), PAIRS, k)
    expected = np.zeros((5, 3))
    expected[0, :] = 1 / 6   # state 0 w.p. 1/2, then each of its 3 actions
    expected[3, 1] = 1 / 2   # state 3 w.p. 1/2, its only action
    np.testing.assert_allclose(freq, expected, atol=0.01)


@pytest.mark.parametrize("k", [1, 2])
def test_observed_pair_draw_is_uniform_over_pairs(k):
    freq = _draw_counts(dyna.DynaConfig(planning_draw="observed_pair"), PAIRS, k)
    expected = np.zeros((5, 3))
    for s, a in PAIRS:
        expected[s, a] = 1 / 4
    np.testing.assert_allclose(freq, expected, atol=0.01)


def test_dyna_q_plus_footnote_draws_untried_actions():
    config = dyna.DynaConfig(variant="dyna-q+")
    freq = _draw_counts(config, PAIRS)
    expected = np.zeros((5, 3))
    expected[[0, 3], :] = 1 / 6  # each visited state w.p. 1/2, then any of the 3 actions
    np.testing.assert_allclose(freq, expected, atol=0.01)
    observed_only = _draw_counts(dyna.DynaConfig(variant="dyna-q+", untried_actions=False), PAIRS)
    assert observed_only[3, 0] == 0 and observed_only[3, 2] == 0


def test_dyna_q_plus_bonus_and_untried_model():
    config = dyna.DynaConfig(variant="dyna-q+", kappa=0.5, gamma=0.9)
    m = _model_with([(0, 0), (3, 1)])  # (0,0) tried at step 1, (3,1) at step 2
    s, a = jnp.array([0, 3, 3]), jnp.array([0, 1, 2])
    batch = dyna.planning_batch(m, s, a, 10, config.hparams(), config)
    # tau = 10-1 = 9 and 10-2 = 8; the untried (3,2) has never been tried: tau = 10.
    np.testing.assert_allclose(batch.r_t, [1 + 0.5 * 3, 1 + 0.5 * np.sqrt(8), 0.5 * np.sqrt(10)],
                               rtol=1e-6)
    np.testing.assert_array_equal(batch.s_t, [1, 4, 3])  # untried pair stays put
    np.testing.assert_allclose(batch.discount_t, [0.9, 0.9, 0.9])
    plain = dyna.DynaConfig(variant="dyna-q", kappa=0.5)
    batch = dyna.planning_batch(m, s[:2], a[:2], 10, plain.hparams(), plain)
    np.testing.assert_allclose(batch.r_t, [1.0, 1.0])  # no bonus in plain Dyna-Q


def test_planning_updates_are_sequential():
    # Two updates of the same chain: the second sees the first's result.
    q = jnp.zeros((3, 1))
    batch = PlanningBatch(s_tm1=jnp.array([1, 0]), a_tm1=jnp.array([0, 0]),
                          r_t=jnp.array([1.0, 0.0]), s_t=jnp.array([2, 1]),
                          discount_t=jnp.array([0.0, 1.0]))
    q = dyna.plan(q, batch, 0.5)
    # Q(1) = 0.5 * 1 = 0.5; then Q(0) = 0.5 * (0 + 1.0 * 0.5) = 0.25 (0 if done in parallel).
    np.testing.assert_allclose(np.asarray(q[:, 0]), [0.25, 0.5, 0.0])


def test_act_breaks_ties_at_random_and_is_greedy_otherwise():
    keys = jax.random.split(jax.random.key(1), 4000)
    tied = jax.vmap(lambda k: dyna.act(jnp.array([1.0, 0.0, 1.0, 1.0]), 0.0, k))(keys)
    counts = np.bincount(np.asarray(tied), minlength=4) / 4000
    np.testing.assert_allclose(counts, [1 / 3, 0, 1 / 3, 1 / 3], atol=0.03)
    explore = jax.vmap(lambda k: dyna.act(jnp.array([0.0, 5.0, 0.0, 0.0]), 0.2, k))(keys)
    counts = np.bincount(np.asarray(explore), minlength=4) / 4000
    np.testing.assert_allclose(counts, [0.05, 0.85, 0.05, 0.05], atol=0.03)
