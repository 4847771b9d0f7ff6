"""Tabular Dyna agent: Q-table, table model and their pure updates, for one seed (vmap for many).

Per real step (Sutton & Barto's Dyna-Q box, steps (d)-(f)):
  1. direct Q-learning update from the real transition,
  2. model update Model(S, A) <- R, S', terminated,
  3. n planning updates, one after another (each sees the previous one's Q).

Shapes: S table rows, A actions, n planning steps.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from mbrl_jax.core.distributions import epsilon_greedy
from mbrl_jax.dyna.config import DynaConfig, DynaHParams


@struct.dataclass
class TableModel:
    """Last observed outcome of each (state, action) pair, plus lists for O(1) planning draws.

    reward, next_state, terminated, observed, last_tried: [S, A].
    last_tried: real-step count (1-based) when the pair was last tried; 0 if never.
    visited: [S] the visited states in first-visit order; num_visited: how many are valid.
    taken: [S, A] per state, the actions taken in it in first-try order; num_taken: [S].
    pairs: [S * A] flat indices s * A + a of observed pairs in first-seen order; num_pairs.
    """

    reward: jax.Array
    next_state: jax.Array
    terminated: jax.Array
    observed: jax.Array
    last_tried: jax.Array
    visited: jax.Array
    num_visited: jax.Array
    taken: jax.Array
    num_taken: jax.Array
    pairs: jax.Array
    num_pairs: jax.Array


@struct.dataclass
class DynaState:
    """q: [S, A] action values; model: the table model; step: real steps taken so far."""

    q: jax.Array
    model: TableModel
    step: jax.Array


class PlanningBatch(NamedTuple):
    """The n simulated transitions of one planning phase. Each field [n]."""

    s_tm1: jax.Array
    a_tm1: jax.Array
    r_t: jax.Array          # model reward, plus the Dyna-Q+ bonus
    s_t: jax.Array
    discount_t: jax.Array   # gamma, or 0 where the model says terminated


def init_model(num_states: int, num_actions: int) -> TableModel:
    s, a = num_states, num_actions
    return TableModel(
        reward=jnp.zeros((s, a), jnp.float32),
        next_state=jnp.zeros((s, a), jnp.int32),
        terminated=jnp.zeros((s, a), bool),
        observed=jnp.zeros((s, a), bool),
        last_tried=jnp.zeros((s, a), jnp.int32),
        visited=jnp.zeros((s,), jnp.int32),
        num_visited=jnp.int32(0),
        taken=jnp.zeros((s, a), jnp.int32),
        num_taken=jnp.zeros((s,), jnp.int32),
        pairs=jnp.zeros((s * a,), jnp.int32),
        num_pairs=jnp.int32(0),
    )


def init_state(num_states: int, num_actions: int, q_init: float = 0.0) -> DynaState:
    return DynaState(
        q=jnp.full((num_states, num_actions), q_init, jnp.float32),
        model=init_model(num_states, num_actions),
        step=jnp.int32(0),
    )


def act(q_s: jax.Array, epsilon: jax.Array, key: jax.Array) -> jax.Array:
    """Epsilon-greedy action from one row of Q [A], ties broken uniformly at random."""
    return epsilon_greedy(q_s, epsilon).sample(seed=key).astype(jnp.int32)


def q_learning_update(q, s_tm1, a_tm1, r_t, discount_t, s_t, alpha):
    """One tabular Q-learning update: Q(s,a) += alpha (r + discount max_a' Q(s',a') - Q(s,a))."""
    q_tm1 = q[s_tm1, a_tm1]
    target = r_t + discount_t * jnp.max(q[s_t])
    return q.at[s_tm1, a_tm1].set(q_tm1 + alpha * (target - q_tm1))


def _append(array, count, value, is_new):
    """Write `value` at position `count` of a list and count it, only if `is_new`."""
    index = jnp.where(is_new, count, array.shape[0])  # out of range -> dropped
    return array.at[index].set(value, mode="drop"), count + is_new.astype(jnp.int32)


def update_model(model: TableModel, s, a, r, s_next, terminated, step) -> TableModel:
    """Model(s, a) <- (r, s_next, terminated), tried at real-step count `step`."""
    num_actions = model.reward.shape[1]
    pair_new = ~model.observed[s, a]
    state_new = model.num_taken[s] == 0
    visited, num_visited = _append(model.visited, model.num_visited, s, state_new)
    taken_s, num_taken_s = _append(model.taken[s], model.num_taken[s], a, pair_new)
    pairs, num_pairs = _append(model.pairs, model.num_pairs, s * num_actions + a, pair_new)
    return TableModel(
        reward=model.reward.at[s, a].set(r),
        next_state=model.next_state.at[s, a].set(s_next),
        terminated=model.terminated.at[s, a].set(terminated),
        observed=model.observed.at[s, a].set(True),
        last_tried=model.last_tried.at[s, a].set(step),
        visited=visited,
        num_visited=num_visited,
        taken=model.taken.at[s].set(taken_s),
        num_taken=model.num_taken.at[s].set(num_taken_s),
        pairs=pairs,
        num_pairs=num_pairs,
    )


def _pick(u, count):
    """Index uniform in [0, count) from u ~ U[0, 1), and the leftover fraction, also ~ U[0, 1).

    The fraction lets one uniform drive two successive choices (mixed radix): for float32 u the
    joint draw over c1 x c2 outcomes is within about c1 * c2 / 2**23 of uniform (see
    `uniforms_per_draw`).
    """
    scaled = u * count
    index = jnp.minimum(scaled.astype(jnp.int32), jnp.maximum(count - 1, 0))
    return index, jnp.clip(scaled - index, 0.0, 1.0 - 2.0**-24)


# One float32 uniform serves both choices of a planning draw while the table has at most this many
# (state, action) pairs (relative bias <= 2**13 / 2**23 ~ 0.1%); larger tables use two uniforms.
_ONE_UNIFORM_MAX_PAIRS = 2**13


def uniforms_per_draw(num_states: int, num_actions: int) -> int:
    """How many U[0, 1) numbers `draw_pairs` consumes per planning draw (1 or 2).

    Random numbers are a large share of a planning step's cost on CPU, so small tables split one.
    """
    return 1 if num_states * num_actions <= _ONE_UNIFORM_MAX_PAIRS else 2


def draw_pairs(model: TableModel, uniforms: jax.Array, config: DynaConfig):
    """Planning (state, action) draws from uniforms [n, k] in [0, 1), k = `uniforms_per_draw`.

    Returns s, a, each [n]. The model must hold at least one observed pair.
    """
    num_actions = model.reward.shape[1]
    u_first = uniforms[:, 0]
    if config.planning_draw == "observed_pair" and not config.plans_untried:
        flat = model.pairs[_pick(u_first, model.num_pairs)[0]]
        return flat // num_actions, flat % num_actions
    visited_index, leftover = _pick(u_first, model.num_visited)
    u_second = uniforms[:, 1] if uniforms.shape[1] > 1 else leftover
    s = model.visited[visited_index]
    if config.plans_untried:
        # Every action of a visited state is eligible (book footnote); for both draw rules this is
        # a uniform visited state, then a uniform action.
        a = _pick(u_second, num_actions)[0]
    else:  # the book's draw: a visited state, then an action taken in it
        a = model.taken[s, _pick(u_second, model.num_taken[s])[0]]
    return s, a


def planning_batch(model, s, a, step, hparams: DynaHParams, config: DynaConfig) -> PlanningBatch:
    """Look the drawn pairs [n] up in the model. Untried pairs stay put with reward 0."""
    observed = model.observed[s, a]
    r = jnp.where(observed, model.reward[s, a], 0.0)
    s_next = jnp.where(observed, model.next_state[s, a], s)
    terminated = observed & model.terminated[s, a]
    if config.plus:
        tau = (step - model.last_tried[s, a]).astype(jnp.float32)
        r = r + hparams.kappa * jnp.sqrt(tau)
    discount = jnp.where(terminated, 0.0, hparams.gamma)
    return PlanningBatch(s, a, r, s_next, discount)


def plan(q, batch: PlanningBatch, alpha) -> jax.Array:
    """Apply the planning updates of `batch` to q [S, A] in order (each sees the last)."""

    def body(i, q):
        return q_learning_update(q, batch.s_tm1[i], batch.a_tm1[i], batch.r_t[i],
                                 batch.discount_t[i], batch.s_t[i], alpha)

    return jax.lax.fori_loop(0, batch.s_tm1.shape[0], body, q)


def update(state: DynaState, s, a, r, s_next, terminated, key, hparams: DynaHParams,
           config: DynaConfig) -> DynaState:
    """Everything after one real transition (s, a, r, s_next, terminated): direct RL, model
    learning, then `config.planning_steps` planning updates drawn with `key`."""
    step = state.step + 1
    discount = jnp.where(terminated, 0.0, hparams.gamma)
    q = q_learning_update(state.q, s, a, r, discount, s_next, hparams.alpha)
    model = update_model(state.model, s, a, r, s_next, terminated, step)
    if config.planning_steps > 0:
        num_states, num_actions = state.q.shape
        uniforms = jax.random.uniform(  # all of this step's planning randomness at once
            key, (config.planning_steps, uniforms_per_draw(num_states, num_actions)))
        ps, pa = draw_pairs(model, uniforms, config)
        q = plan(q, planning_batch(model, ps, pa, step, hparams, config), hparams.alpha)
    return DynaState(q=q, model=model, step=step)
