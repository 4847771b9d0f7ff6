"""The ensemble's public entry points: argument contracts, checks and array-like inputs.

`make_ensemble` hands these functions to users; each checks its arguments (see
`mbrl_jax.core.validation`: shapes always, also under `jit`; values such as action indices and
finiteness only when concrete), converts array-likes (numpy arrays, lists) to JAX arrays, and calls
the pure implementation in `ensemble.py` / `train.py`.

Shapes: B batch, N dataset rows, O = obs_dim, A = action_dim, D = O + 1 targets, E members,
K = num_elites, I = O + A (one-hot width when discrete) network inputs, H horizon.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.core import validation as v
from mbrl_jax.core.errors import InputError
from mbrl_jax.core.types import Transition
from mbrl_jax.models.config import EnsembleConfig, check_propagation
from mbrl_jax.models.train import EnsembleState, FitInfo, TrainBatch


def _check_obs(config: EnsembleConfig, argument: str, obs: Any, lead: str = "B") -> None:
    v.check_shape(argument, obs, (None,) * (lead.count(",") + 1) + (config.obs_dim,),
                  f"[{lead}, obs_dim={config.obs_dim}]")


def _check_action(config: EnsembleConfig, argument: str, action: Any, lead_shape: tuple,
                  lead: str, num_rows: int | None = None) -> None:
    """Discrete: int indices `[lead]` in [0, action_dim); continuous: floats `[lead, A]`."""
    if config.discrete_actions:
        v.check_shape(argument, action, lead_shape,
                      f"[{lead}] integer actions (discrete_actions=True)")
        rows = action if num_rows is None else np.asarray(action)[:num_rows]
        v.check_index_range(argument, rows, config.action_dim, "action_dim")
    else:
        v.check_shape(argument, action, (*lead_shape, config.action_dim),
                      f"[{lead}, action_dim={config.action_dim}] (discrete_actions=False)")


def _check_dataset(config: EnsembleConfig, dataset: Transition, num_valid: Any) -> None:
    if not isinstance(dataset, Transition):
        raise InputError("dataset", "expected a Transition(obs, action, reward, next_obs, done) "
                                    f"with leaves [N, ...], got {type(dataset).__name__}")
    v.check_rank("dataset.obs", dataset.obs, 2, f"[N, obs_dim={config.obs_dim}]")
    n = dataset.obs.shape[0]
    _check_obs(config, "dataset.obs", dataset.obs, "N")
    _check_obs(config, "dataset.next_obs", dataset.next_obs, "N")
    v.check_shape("dataset.reward", dataset.reward, (n,), f"[N={n}]")
    v.check_shape("dataset.done", dataset.done, (n,), f"[N={n}]")
    if num_valid is not None and v.is_concrete(num_valid):
        num_valid = int(np.asarray(num_valid))
        if not 0 <= num_valid <= n:
            raise InputError("num_valid", f"must be in [0, N={n}] (the dataset's rows), "
                                          f"got {num_valid}")
    rows = n if num_valid is None or not v.is_concrete(num_valid) else num_valid
    _check_action(config, "dataset.action", dataset.action, (n,), f"N={n}",
                  num_rows=rows if v.is_concrete(dataset.action) else None)
    if not v.is_concrete(num_valid):
        return
    if rows == 0:
        raise InputError("num_valid" if num_valid is not None else "dataset",
                         f"fit needs at least one valid row, got {rows} (of N={n})")
    if v.is_concrete(dataset):
        bad = v.first_nonfinite_row(
            {f"dataset.{name}": x for name, x in dataset._asdict().items()}, rows)
        if bad is not None:
            raise InputError(bad[0], f"row {bad[1]} is not finite (NaN or inf); "
                                     "drop or repair it before fitting")


def _fit_finite(info: FitInfo) -> jax.Array:
    """True when every loss and holdout MSE of the epochs run is finite."""
    ran = (jnp.arange(info.train_loss.shape[0]) < info.num_epochs)[:, None]
    ok = jnp.where(ran, jnp.isfinite(info.train_loss) & jnp.isfinite(info.holdout_mse), True)
    return jnp.all(ok) & (info.num_train > 0)


def with_checks(config: EnsembleConfig, impl) -> Any:
    """Wrap the pure functions of an `EnsembleModel` in their public contracts (see the module
    docstring); returns an `EnsembleModel` of the same functions."""
    e = config.ensemble_size

    def init(key: jax.Array) -> EnsembleState:
        """A fresh `EnsembleState`: E members initialised from one key each, the identity
        normaliser, elites = the first K members, `holdout_mse` [E] = inf. Every leaf has an
        explicit dtype, so `init -> fit -> fit` compiles `fit` once."""
        return impl.init(key)

    def predict(state: EnsembleState, obs: Any, action: Any, key: jax.Array | None = None,
                elites_only: bool = True):
        """One step for a batch: obs `[B, O]`, action `[B]` int in [0, A) (discrete) or `[B, A]`.

        Args:
          key: draws each member's Gaussian sample (`Prediction.sample_*`); None returns means.
          elites_only: use the K elites (default, as `rollout` and `rollout_policy`; before any
            fit the elites are the first K members), else all E members.
        Returns:
          `Prediction`, member axes M = K or E.
        """
        obs, action = v.as_arrays((obs, action))
        _check_obs(config, "obs", obs)
        _check_action(config, "action", action, obs.shape[:1], f"B={obs.shape[0]}")
        return impl.predict(state, obs, action, key, elites_only=elites_only)

    def rollout(state: EnsembleState, key: jax.Array, init_obs: Any, actions: Any,
                propagation: str = "random_member", elites_only: bool = True,
                sample: bool = True, **options):
        """Open-loop rollout of `actions` `[H, B]` / `[H, B, A]` from `init_obs` `[B, O]`.

        propagation: "mean" (ensemble mean, deterministic), "random_member" (PETS TS-1: a random
        member per particle and step) or "fixed_member" (TS-inf: one member per particle for the
        whole trajectory). sample: draw from the chosen member's Gaussian (probabilistic only).
        elites_only: members drawn among the K elites (default) or all E.
        Returns a time-major `Rollout` (leaves `[H, B, ...]`).
        """
        init_obs, actions = v.as_arrays((init_obs, actions))
        check_propagation(propagation)
        _check_obs(config, "init_obs", init_obs)
        v.check_rank("actions", actions, 2 if config.discrete_actions else 3,
                     "[H, B]" if config.discrete_actions else "[H, B, A]")
        _check_action(config, "actions", actions, (actions.shape[0], init_obs.shape[0]),
                      f"H, B={init_obs.shape[0]}")
        return impl.rollout(state, key, init_obs, actions, propagation=propagation,
                            elites_only=elites_only, sample=sample, **options)

    def rollout_policy(state: EnsembleState, key: jax.Array, init_obs: Any,
                       policy: Callable[[jax.Array, jax.Array], jax.Array], horizon: int,
                       propagation: str = "random_member", elites_only: bool = True,
                       sample: bool = True, **options):
        """Closed-loop rollout for `horizon` (static) steps from `init_obs` `[B, O]`, acting with
        `policy(key, obs [B, O]) -> action [B] / [B, A]` (pure, traced once). Defaults follow
        MBPO: a random elite per particle and step, sampled. See `rollout`."""
        init_obs = jnp.asarray(init_obs)
        check_propagation(propagation)
        _check_obs(config, "init_obs", init_obs)
        v.check_int("horizon", horizon, minimum=1)
        b = init_obs.shape[0]

        def checked_policy(k, obs):
            action = policy(k, obs)
            _check_action(config, "policy(key, obs)", action, (b,), f"B={b}")
            return action

        return impl.rollout_policy(state, key, init_obs, checked_policy, horizon,
                                   propagation=propagation, elites_only=elites_only,
                                   sample=sample, **options)

    def _check_batch(batch: TrainBatch) -> TrainBatch:
        batch = TrainBatch(*v.as_arrays(tuple(batch)))
        v.check_shape("batch.inputs", batch.inputs, (e, None, config.input_dim),
                      f"[ensemble_size={e}, B, input_dim={config.input_dim}] (make_train_batch)")
        b = batch.inputs.shape[1]
        v.check_shape("batch.targets", batch.targets, (e, b, config.target_dim),
                      f"[ensemble_size={e}, B={b}, obs_dim + 1={config.target_dim}]")
        v.check_shape("batch.done", batch.done, (e, b), f"[ensemble_size={e}, B={b}]")
        return batch

    def losses(state: EnsembleState, batch: TrainBatch):
        """Per-member loss `[E]` and metrics (each `[E]`) on per-member minibatches (a
        `TrainBatch` with leaves `[E, B, ...]`, see `make_train_batch`), in normalised units."""
        return impl.losses(state, _check_batch(batch))

    def update(state: EnsembleState, batch: TrainBatch):
        """One AdamW step for all members on per-member minibatches `[E, B, ...]` (see
        `make_train_batch`); returns `(state, metrics)` with metrics leaves `[E]`. Uses the
        state's normaliser as it is (`fit` sets it; after `init` it is the identity)."""
        return impl.update(state, _check_batch(batch))

    def fit(state: EnsembleState, dataset: Transition, key: jax.Array, num_valid: Any = None):
        """Train all members on a dataset, with holdout early stopping; returns (state, FitInfo).

        Args:
          dataset: a `Transition` with leaves `[N, ...]`: obs `[N, O]`, action `[N]` int in [0, A)
            or `[N, A]`, reward `[N]`, next_obs `[N, O]`, done `[N]`. Any array-likes (numpy).
          num_valid: how many rows are valid (int, may be traced, e.g. a replay buffer's size);
            the valid rows must be the FIRST `num_valid` rows (a `core.buffer` that has not
            wrapped around). None: all N rows.
        Contract: the normaliser is refitted on the training rows; the holdout (a random
        `holdout_ratio` of the valid rows, at most `max_holdout`) picks each member's best epoch
        and the elites. Concrete data are refused (`InputError`) when no row is valid, or when a
        valid row holds NaN/inf (the message names the first). Under `jit` these cannot be read:
        check `FitInfo.finite` (False after a non-finite loss or with no valid row).
        """
        dataset = Transition(*v.as_arrays(tuple(dataset))) if isinstance(
            dataset, Transition) else dataset
        _check_dataset(config, dataset, num_valid)
        state, info = impl.fit(state, dataset, key, num_valid)
        return state, info._replace(finite=_fit_finite(info))

    return type(impl)(init=init, predict=predict, rollout=rollout,
                      rollout_policy=rollout_policy, losses=losses, update=update, fit=fit)
