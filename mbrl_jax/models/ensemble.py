"""The dynamics ensemble as a NamedTuple of pure functions: init, predict, rollout, update, fit.

    config = EnsembleConfig(obs_dim=4, action_dim=2, discrete_actions=True)
    model = make_ensemble(config)                       # closures only, no array math
    state = model.init(key)                             # EnsembleState (arrays only)
    state, info = jax.jit(model.fit)(state, data, key)  # data: Transition, leaves [N, ...]
    pred = model.predict(state, obs, action)            # Prediction over the K elites
    traj = model.rollout(state, key, obs0, actions, propagation="random_member")

Shapes: B batch, O obs_dim, D = O + 1 targets, E members, K elites, M = K with `elites_only` else E,
H horizon. Actions are `[B]` ints (discrete) or `[B, A]` floats.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from mbrl_jax.core.types import Transition
from mbrl_jax.models.checks import with_checks
from mbrl_jax.models.config import EnsembleConfig, check_propagation
from mbrl_jax.models.networks import (
    denormalize_targets,
    encode_inputs,
    encode_targets,
    ensemble_apply,
    identity_normalizer,
    init_member,
    make_member_network,
    normalize_inputs,
    take_members,
)
from mbrl_jax.models.train import (
    EnsembleState,
    FitInfo,
    TrainBatch,
    make_fit,
    make_optimizer,
    make_update,
    member_losses,
)

TerminationFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
"""`termination_fn(obs [O], action [] or [A], next_obs [O]) -> bool []` for one transition."""


class Prediction(NamedTuple):
    """One-step prediction in original units, over M members (elites or all).

    next_obs: [B, O] ensemble mean of the members' mean next observations.
    reward: [B] ensemble mean reward.
    member_next_obs, member_reward: [M, B, O], [M, B] each member's mean.
    sample_next_obs, sample_reward: [M, B, O], [M, B] each member's Gaussian sample (equal to the
      member means without a key or for deterministic members).
    epistemic_var: [B, D] variance across members of their means (delta obs then reward).
    aleatoric_var: [B, D] members' predicted variance, averaged (zeros when deterministic).
    disagreement: [B] spread of the member means: std across members of the predicted change of
      each obs dim, in units of that dim's target std (the normaliser's), averaged over obs dims.
      Dimensionless, so dims with large units do not drown the others.
    terminated: [B] bool, from `termination_fn` on the mean prediction, or the learned head's mean
      probability > 0.5; all False with neither.
    """

    next_obs: jax.Array
    reward: jax.Array
    member_next_obs: jax.Array
    member_reward: jax.Array
    sample_next_obs: jax.Array
    sample_reward: jax.Array
    epistemic_var: jax.Array
    aleatoric_var: jax.Array
    disagreement: jax.Array
    terminated: jax.Array


class Rollout(NamedTuple):
    """An imagined trajectory batch, time-major.

    obs, next_obs: [H, B, O]; action: [H, B] or [H, B, A]; reward: [H, B];
    terminated: [H, B] bool (this step terminated); mask: [H, B] bool, True while no earlier step
    terminated (transitions to keep); member: [H, B] int32 member used (-1 for "mean");
    disagreement: [H, B] spread of the member means at each step (see `Prediction`); NaN for a
      member propagation rolled out without `disagreement=True`.
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array
    mask: jax.Array
    member: jax.Array
    disagreement: jax.Array


class EnsembleModel(NamedTuple):
    """Pure functions of an ensemble (see the module docstring). All are jit/vmap-able; pass
    `propagation`, `elites_only`, `sample`, `horizon` as static arguments under `jax.jit`.
    The functions users get check their arguments first; their contracts (shapes, defaults,
    which rows `fit` uses) are documented in `mbrl_jax.models.checks`."""

    init: Callable[..., EnsembleState]
    predict: Callable[..., Prediction]
    rollout: Callable[..., Rollout]
    rollout_policy: Callable[..., Rollout]
    losses: Callable[..., Any]
    update: Callable[..., Any]
    fit: Callable[..., tuple[EnsembleState, FitInfo]]


def make_ensemble(
    config: EnsembleConfig, termination_fn: TerminationFn | None = None
) -> EnsembleModel:
    """Build the ensemble's functions. Validates `config` (raises `ModelConfigError`); the
    functions check their arguments (raise `InputError`, see `mbrl_jax.models.checks`)."""
    config.validate()
    net = make_member_network(config)
    optimizer = make_optimizer(config)
    update = make_update(config, net, optimizer)
    fit = make_fit(config, net, update)
    e, o = config.ensemble_size, config.obs_dim

    def init(key: jax.Array) -> EnsembleState:
        """Fresh members (one key each), identity normaliser, elites = first K members."""
        params = jax.vmap(lambda k: init_member(config, net, k))(jax.random.split(key, e))
        if config.shared_logvar_bounds:  # one pair for all members
            params = {**params, "max_logvar": params["max_logvar"][0],
                      "min_logvar": params["min_logvar"][0]}
        return EnsembleState(
            params=params,
            opt_state=optimizer.init(params),
            normalizer=identity_normalizer(config),
            elite_idx=jnp.arange(config.num_elites, dtype=jnp.int32),
            holdout_mse=jnp.full((e,), jnp.inf, jnp.float32),
            step=jnp.int32(0),
        )

    def _members(state: EnsembleState, elites_only: bool) -> jax.Array:
        return state.elite_idx if elites_only else jnp.arange(e, dtype=jnp.int32)

    def _member_moments(state, obs, action):
        """Denormalised member means/vars [E, B, D] and termination probs [E, B]."""
        x = normalize_inputs(state.normalizer, encode_inputs(config, obs, action))
        out = ensemble_apply(config, net, state.params, x)
        mean = denormalize_targets(state.normalizer, out.mean)
        var = jnp.exp(out.logvar) * jnp.square(state.normalizer.target_std)
        if not config.probabilistic:
            var = jnp.zeros_like(var)
        return mean, var, jax.nn.sigmoid(out.termination_logit)

    def _disagreement(state, mean):
        """[M, B, D] member means (original units) -> [B] standardised spread of the obs deltas."""
        std = jnp.sqrt(jnp.var(mean[..., :o], axis=0))  # [B, O]
        return (std / state.normalizer.target_std[:o]).mean(-1)

    def _terminated(obs, action, next_obs, prob):
        if termination_fn is not None:
            return jax.vmap(termination_fn)(obs, action, next_obs).astype(bool)
        if config.learn_termination:
            return prob > 0.5
        return jnp.zeros(obs.shape[:1], bool)

    def predict(
        state: EnsembleState,
        obs: jax.Array,
        action: jax.Array,
        key: jax.Array | None = None,
        elites_only: bool = False,
    ) -> Prediction:
        """One step for a batch: obs [B, O], action [B] / [B, A]. See `Prediction`."""
        mean, var, prob = _member_moments(state, obs, action)
        members = _members(state, elites_only)
        mean, var, prob = mean[members], var[members], prob[members]  # [M, B, D], [M, B]
        sample = mean
        if key is not None and config.probabilistic:
            sample = mean + jnp.sqrt(var) * jax.random.normal(key, mean.shape, mean.dtype)
        member_next = obs + mean[..., :o]
        ens_next = member_next.mean(0)
        epistemic = jnp.var(mean, axis=0)  # [B, D]
        return Prediction(
            next_obs=ens_next,
            reward=mean[..., o].mean(0),
            member_next_obs=member_next,
            member_reward=mean[..., o],
            sample_next_obs=obs + sample[..., :o],
            sample_reward=sample[..., o],
            epistemic_var=epistemic,
            aleatoric_var=var.mean(0),
            disagreement=_disagreement(state, mean),
            terminated=_terminated(obs, action, ens_next, prob.mean(0)),
        )

    def _routed_moments(state, params, obs, action, slots, m):
        """Each particle through one member only: `slots` `[P]` is a permutation of
        `[0, P)`, P = m * S; particle j sits in slot `slots[j]` and member block `slots[j] // S`
        of `params` (leaves `[m, ...]`) computes it. Returns [B, D] mean/var and [B] probs."""
        x = normalize_inputs(state.normalizer, encode_inputs(config, obs, action))  # [B, I]
        b, p = x.shape[0], slots.shape[0]
        placed = jnp.zeros((p, x.shape[1]), x.dtype).at[slots[:b]].set(x)  # [P, I]
        out = ensemble_apply(config, net, params, placed.reshape(m, p // m, -1),
                             shared_inputs=False)  # [m, S, ...]
        back = lambda a: a.reshape((p,) + a.shape[2:])[slots[:b]]  # noqa: E731
        mean = denormalize_targets(state.normalizer, back(out.mean))
        var = jnp.exp(back(out.logvar)) * jnp.square(state.normalizer.target_std)
        if not config.probabilistic:
            var = jnp.zeros_like(var)
        return mean, var, jax.nn.sigmoid(back(out.termination_logit))

    def _rollout(state, key, init_obs, action_fn, horizon, propagation, elites_only, sample,
                 disagreement):
        check_propagation(propagation)
        members = _members(state, elites_only)
        m, b = members.shape[0], init_obs.shape[0]
        p = -(-b // m) * m  # particles padded to a whole number of slots per member
        fixed_key, step_key = jax.random.split(key)
        fixed = jax.random.permutation(fixed_key, p)  # TS-inf: slots for the whole horizon
        routed = propagation != "mean" and not disagreement
        member_params = take_members(config, state.params, members) if routed else None
        rows = jnp.arange(b)

        def step(carry, inputs):
            obs, alive = carry
            t, k = inputs
            act_key, member_key, noise_key = jax.random.split(k, 3)
            action = action_fn(t, act_key, obs)
            if propagation == "random_member":  # TS-1: fresh slots every step
                slots = jax.random.permutation(member_key, p)
            else:
                slots = fixed
            member = members[slots[:b] // (p // m)]  # [B], uniform over members per particle
            if routed:
                mean, var, prob = _routed_moments(state, member_params, obs, action, slots, m)
                spread = jnp.full((b,), jnp.nan, mean.dtype)
            else:
                mean, var, prob = _member_moments(state, obs, action)  # [E, B, D], [E, B]
                spread = _disagreement(state, mean[members])  # [B]
                if propagation == "mean":
                    mean, prob = mean[members].mean(0), prob[members].mean(0)
                    member = jnp.full((b,), -1, jnp.int32)
                else:
                    mean, var, prob = mean[member, rows], var[member, rows], prob[member, rows]
            delta = mean
            if sample and config.probabilistic and propagation != "mean":
                delta = delta + jnp.sqrt(var) * jax.random.normal(noise_key, delta.shape,
                                                                   delta.dtype)
            next_obs = obs + delta[:, :o]
            terminated = _terminated(obs, action, next_obs, prob)
            out = Rollout(obs, action, delta[:, o], next_obs, terminated, alive, member, spread)
            return (next_obs, alive & ~terminated), out

        keys = jax.random.split(step_key, horizon)
        carry = (init_obs, jnp.ones((b,), bool))
        _, traj = jax.lax.scan(step, carry, (jnp.arange(horizon), keys))
        return traj

    def rollout(
        state: EnsembleState,
        key: jax.Array,
        init_obs: jax.Array,
        actions: jax.Array,
        propagation: str = "random_member",
        elites_only: bool = False,
        sample: bool = True,
        disagreement: bool = False,
    ) -> Rollout:
        """Open-loop rollout of given actions `[H, B]` / `[H, B, A]` from init_obs `[B, O]`.

        propagation: "mean" (ensemble mean, deterministic), "random_member" (PETS TS-1: a random
        member per particle each step) or "fixed_member" (TS-inf: one member per particle for the
        whole trajectory). `sample` draws from the chosen member's Gaussian (probabilistic only).
        Members are drawn among the elites when `elites_only`.

        Cost: with a member propagation each particle is computed by its member only. Particles
        are dealt into M equal blocks of slots by a random permutation (a fresh one per step for
        TS-1, one for the whole horizon for TS-inf), so each particle's member is uniform over
        the M members, as in independent draws, while the batch runs as M dense blocks of
        ceil(B / M) rows. `disagreement=True` records `Rollout.disagreement`, which needs every
        member's prediction and so costs the full ensemble per step; otherwise it is NaN for
        member propagations ("mean" always computes every member and records it).
        """
        horizon = actions.shape[0]
        return _rollout(
            state,
            key,
            init_obs,
            lambda t, _, __: actions[t],
            horizon,
            propagation,
            elites_only,
            sample,
            disagreement,
        )

    def rollout_policy(
        state: EnsembleState,
        key: jax.Array,
        init_obs: jax.Array,
        policy: Callable[[jax.Array, jax.Array], jax.Array],
        horizon: int,
        propagation: str = "random_member",
        elites_only: bool = True,
        sample: bool = True,
        disagreement: bool = False,
    ) -> Rollout:
        """Closed-loop rollout: `policy(key, obs [B, O]) -> action [B] / [B, A]` for `horizon` steps
        (static). Defaults follow MBPO: a random elite per step, sampled. See `rollout`."""
        return _rollout(
            state,
            key,
            init_obs,
            lambda _, k, obs: policy(k, obs),
            horizon,
            propagation,
            elites_only,
            sample,
            disagreement,
        )

    def losses(state: EnsembleState, batch: TrainBatch):
        """Per-member loss `[E]` and metrics on per-member batches (see `member_losses`)."""
        return member_losses(config, net, state.params, state.normalizer, batch)

    return with_checks(config, EnsembleModel(
        init=init,
        predict=predict,
        rollout=rollout,
        rollout_policy=rollout_policy,
        losses=losses,
        update=update,
        fit=fit,
    ))


def make_train_batch(config: EnsembleConfig, data: Transition, rows: jax.Array) -> TrainBatch:
    """Gather per-member minibatches: rows `[E, B]` of a dataset with leaves `[N, ...]`."""
    obs, next_obs = data.obs[rows], data.next_obs[rows]
    return TrainBatch(
        inputs=encode_inputs(config, obs, data.action[rows]),
        targets=encode_targets(obs, data.reward[rows], next_obs),
        done=data.done[rows].astype(obs.dtype),
    )
