"""Training the ensemble: losses, one update for all members, and `fit` with early stopping.

Every member trains on its own bootstrap of the training rows; one optax optimiser runs over the
stacked params. Adam(W) is elementwise and the total loss is a sum of per-member losses, so this is
exactly one optimiser per member (do not add global-norm clipping: it would couple the members).
"""

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mbrl_jax.core.networks import Network
from mbrl_jax.core.types import Transition
from mbrl_jax.models.config import EnsembleConfig
from mbrl_jax.models.networks import (
    Normalizer,
    compute_normalizer,
    encode_inputs,
    encode_targets,
    ensemble_apply,
    normalize_inputs,
    normalize_targets,
    renormalize,
)

_LOG_2PI = math.log(2.0 * math.pi)


@struct.dataclass
class EnsembleState:
    """Data-only state of an ensemble.

    params: `{"net": ..., "max_logvar": [E, D], "min_logvar": [E, D]}`, leaves stacked `[E, ...]`.
    opt_state: optax state over `params`.
    normalizer: input/target statistics (see `Normalizer`).
    elite_idx: [K] int32, members sorted by validation MSE, best first.
    holdout_mse: [E] best validation MSE per member (normalised units; inf before any fit).
    step: int32 count of gradient updates.
    """

    params: Any
    opt_state: Any
    normalizer: Normalizer
    elite_idx: jax.Array
    holdout_mse: jax.Array
    step: jax.Array


class TrainBatch(NamedTuple):
    """One minibatch per member, already encoded (original units).

    inputs: [E, B, I]; targets: [E, B, D]; done: [E, B] float in {0, 1}.
    """

    inputs: jax.Array
    targets: jax.Array
    done: jax.Array


class FitInfo(NamedTuple):
    """Loss curves of `fit`; rows after the last epoch are NaN.

    train_loss: [max_epochs, E] mean training loss per epoch and member.
    holdout_mse: [max_epochs, E] validation MSE (normalised target units) after each epoch.
    num_epochs: int32 scalar, epochs run before early stopping (or max_epochs).
    best_holdout_mse: [E] best validation MSE of the kept params.
    num_train, num_holdout: int32 scalars, rows used for training and validation.
    finite: bool scalar, False when a loss or holdout MSE was NaN/inf (non-finite data, which
      concrete data are refused for, reached `fit` under `jit`) or no row was valid; the params
      are then not trustworthy.
    """

    train_loss: jax.Array
    holdout_mse: jax.Array
    num_epochs: jax.Array
    best_holdout_mse: jax.Array
    num_train: jax.Array
    num_holdout: jax.Array
    finite: jax.Array = True


def gaussian_nll(mean: jax.Array, logvar: jax.Array, target: jax.Array) -> jax.Array:
    """Mean over all elements of `-log N(target; mean, exp(logvar))`; any equal shapes."""
    return 0.5 * jnp.mean(jnp.square(target - mean) * jnp.exp(-logvar) + logvar + _LOG_2PI)


def make_optimizer(config: EnsembleConfig) -> optax.GradientTransformation:
    """AdamW; weight decay only on network kernels (not biases or log-variance bounds)."""

    def decay_mask(params: Any) -> Any:
        return jax.tree_util.tree_map_with_path(
            lambda path, _: any(getattr(k, "key", None) == "kernel" for k in path), params
        )

    return optax.adamw(config.learning_rate, weight_decay=config.weight_decay, mask=decay_mask)


def member_losses(
    config: EnsembleConfig,
    net: Network,
    params: Any,
    normalizer: Normalizer,
    batch: TrainBatch,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Per-member training loss `[E]` and metrics (each `[E]`) on per-member batches `[E, B, ...]`.

    Loss: MSE (deterministic) or Gaussian NLL + `logvar_bound_coef * (sum max - sum min)`
    (probabilistic), in normalised target units; plus the termination BCE if learned.
    """
    x = normalize_inputs(normalizer, batch.inputs)
    y = normalize_targets(normalizer, batch.targets)
    out = ensemble_apply(config, net, params, x, shared_inputs=False)  # [E, B, D]
    mse = jnp.mean(jnp.square(out.mean - y), axis=(1, 2))  # [E]
    if config.probabilistic:
        if config.nll_scaling == "mbpo":
            sq = jnp.square(out.mean - y) * jnp.exp(-out.logvar) + out.logvar
            nll = jnp.mean(sq, axis=(1, 2))  # [E]
        else:
            nll = jax.vmap(gaussian_nll)(out.mean, out.logvar, y)  # [E]
        bound = params["max_logvar"].sum(-1) - params["min_logvar"].sum(-1)  # [E] or [] shared
        e = config.ensemble_size
        bound = jnp.broadcast_to(bound / e if config.shared_logvar_bounds else bound, (e,))
        loss = nll + config.logvar_bound_coef * bound
    else:
        loss = mse
    if config.layer_weight_decay:
        loss = loss + layer_penalty(config, params)
    metrics = {"mse": mse}
    if config.learn_termination:
        bce = optax.sigmoid_binary_cross_entropy(out.termination_logit, batch.done).mean(-1)
        loss = loss + config.termination_coef * bce
        metrics["termination_bce"] = bce
    metrics["loss"] = loss
    return loss, metrics


def layer_penalty(config: EnsembleConfig, params: Any) -> jax.Array:
    """Per-member `sum_l c_l * 0.5 * |W_l|^2` `[E]` over the kernels, input layer first."""
    layers = params["net"]["params"]
    names = [f"hidden_{i}" for i in range(len(config.hidden_sizes))] + ["output"]
    terms = [c * 0.5 * jnp.sum(jnp.square(layers[n]["kernel"]), axis=(1, 2))
             for c, n in zip(config.layer_weight_decay, names, strict=True)]
    return sum(terms)


def make_update(
    config: EnsembleConfig, net: Network, optimizer: optax.GradientTransformation
) -> Callable[[EnsembleState, TrainBatch], tuple[EnsembleState, dict[str, jax.Array]]]:
    """`update(state, batch [E, B, ...]) -> (state, metrics [E])`: one step for all members."""

    def total_loss(params, normalizer, batch):
        loss, metrics = member_losses(config, net, params, normalizer, batch)
        return loss.sum(), metrics  # members are independent: grads of the sum are per member

    def update(state: EnsembleState, batch: TrainBatch):
        grads, metrics = jax.grad(total_loss, has_aux=True)(state.params, state.normalizer, batch)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return state.replace(params=params, opt_state=opt_state, step=state.step + 1), metrics

    return update


def bootstrap_rows(key: jax.Array, positions: jax.Array, num_valid: Any) -> jax.Array:
    """Rows of members' bootstraps at `positions` `[E, ...]`: ints uniform in `[0, num_valid)`.

    Member e's bootstrap is the sequence `row_e(p)`, p = 0, 1, ..., one independent uniform draw
    per position from a counter-based generator keyed by (key, e, p): a fixed resample for the
    whole fit, computed only where it is read (no `[E, capacity]` table, no sort).
    """
    keys = jax.random.split(key, positions.shape[0])
    hi = jnp.maximum(num_valid, 1)

    def member(k, pos):
        draw = lambda p: jax.random.randint(jax.random.fold_in(k, p), (), 0, hi)  # noqa: E731
        return jax.vmap(draw)(pos.reshape(-1)).reshape(pos.shape)

    return jax.vmap(member)(keys, positions)


def bootstrap_indices(key: jax.Array, ensemble_size: int, size: int, num_valid: Any) -> jax.Array:
    """Per-member bootstrap `[E, size]`: positions 0..size-1 of each member's `bootstrap_rows`
    (ints uniform in `[0, num_valid)`, with replacement, an independent draw per member)."""
    positions = jnp.broadcast_to(jnp.arange(size), (ensemble_size, size))
    return bootstrap_rows(key, positions, num_valid)


def _masked_permutation(key: jax.Array, size: int, num_valid: Any) -> jax.Array:
    """A permutation of `[0, size)` whose first `num_valid` entries are a random order of
    `[0, num_valid)` (the rest follow in order)."""
    u = jax.random.uniform(key, (size,))
    u = jnp.where(jnp.arange(size) < num_valid, u, 2.0 + jnp.arange(size) / size)
    return jnp.argsort(u)


def keep_best(config: EnsembleConfig, better: jax.Array, new: Any, old: Any) -> Any:
    """Per member, `new` params where `better` `[E]` else `old`; shared bounds follow `new`."""
    e = config.ensemble_size
    pick = lambda n, o: jnp.where(better.reshape((e,) + (1,) * (n.ndim - 1)), n, o)  # noqa: E731
    out = {"net": jax.tree.map(pick, new["net"], old["net"])}
    for name in ("max_logvar", "min_logvar"):
        out[name] = new[name] if config.shared_logvar_bounds else pick(new[name], old[name])
    return out


def track_improvement(mse, best, ref, since, threshold: float):
    """One epoch of early-stopping bookkeeping (MBPO's rule), per member `[E]`.

    A member's reference `ref` moves only when its validation MSE beats it by more than
    `threshold` (relative), so slow gains accumulate until they count; `since` (scalar) counts
    epochs in which no member did so. `best` tracks the true minimum, whose params are kept.
    Returns (better [E] bool: new best this epoch, best, ref, since).
    """
    better = mse < best
    improved = mse < ref * (1.0 - threshold)
    return (better, jnp.where(better, mse, best), jnp.where(improved, mse, ref),
            jnp.where(jnp.any(improved), 0, since + 1))


_EVAL_CHUNK = 256  # validation rows per forward pass; the number of passes follows rows held


def make_fit(
    config: EnsembleConfig,
    net: Network,
    update: Callable[[EnsembleState, TrainBatch], tuple[EnsembleState, dict[str, jax.Array]]],
):
    """`fit(state, dataset, key, num_valid=None) -> (state, FitInfo)`; see `EnsembleModel.fit`.

    Cost. One shuffle of the capacity splits holdout from training rows and the normaliser is one
    masked pass over it, once per fit; every epoch then costs in the rows held: `n_train // B`
    minibatches (at least one), each drawn with replacement from every member's bootstrap
    (`bootstrap_rows`, computed only where read), and `ceil(n_holdout / 256)` validation passes.
    Warm start: when `state` was fitted before, its params are first rescaled to the new
    normaliser (`renormalize`), so the refit starts from the function already learned.
    """
    e = config.ensemble_size

    def fit(state: EnsembleState, dataset: Transition, key: jax.Array, num_valid: Any = None):
        capacity = dataset.obs.shape[0]
        n = jnp.asarray(capacity if num_valid is None else num_valid, jnp.int32)
        n = jnp.minimum(n, capacity)
        hold_cap = config.holdout_size(capacity)  # static upper bound of holdout rows
        n_hold = jnp.minimum(
            jnp.floor(n * config.holdout_ratio).astype(jnp.int32), config.max_holdout
        )
        n_train = n - n_hold
        batch = min(config.batch_size, capacity)  # static minibatch size
        num_batches = jnp.maximum(n_train // batch, 1)

        split_key, boot_key, loop_key = jax.random.split(key, 3)
        order = _masked_permutation(split_key, capacity, n)  # valid rows first, shuffled

        def encoded(rows):
            obs = dataset.obs[rows]
            return (encode_inputs(config, obs, dataset.action[rows]),
                    encode_targets(obs, dataset.reward[rows], dataset.next_obs[rows]),
                    dataset.done[rows].astype(obs.dtype))

        # Validation rows: the first n_hold of `order`; with none, validate on training rows.
        eval_cap = hold_cap if hold_cap > 0 else min(capacity, max(config.max_holdout, 1))
        eval_count = jnp.where(n_hold > 0, n_hold, jnp.minimum(n_train, eval_cap))
        chunk = min(_EVAL_CHUNK, eval_cap)
        padded = -(-eval_cap // chunk) * chunk
        eval_rows = jnp.pad(order[:eval_cap], (0, padded - eval_cap))  # [Hp]
        eval_mask = jnp.arange(padded) < eval_count  # [Hp]

        train_rows = order[jnp.minimum(n_hold + jnp.arange(capacity), capacity - 1)]  # [N]
        train_in, train_tg, _ = encoded(train_rows)
        normalizer = compute_normalizer(train_in, train_tg, jnp.arange(capacity) < n_train)
        fitted = state.step > 0
        params = jax.tree.map(
            lambda new, old: jnp.where(fitted, new, old),
            renormalize(config, state.params, state.normalizer, normalizer), state.params)
        state = state.replace(params=params, normalizer=normalizer)

        eval_in, eval_tg, _ = encoded(eval_rows)
        x_eval = normalize_inputs(normalizer, eval_in)  # [Hp, I]
        y_eval = normalize_targets(normalizer, eval_tg)  # [Hp, D]
        w_eval = eval_mask.astype(x_eval.dtype) / jnp.maximum(eval_count, 1)
        num_chunks = (eval_count + chunk - 1) // chunk

        def holdout_mse(params):
            def one_chunk(c, acc):
                x = jax.lax.dynamic_slice_in_dim(x_eval, c * chunk, chunk)
                y = jax.lax.dynamic_slice_in_dim(y_eval, c * chunk, chunk)
                w = jax.lax.dynamic_slice_in_dim(w_eval, c * chunk, chunk)
                out = ensemble_apply(config, net, params, x)  # mean [E, chunk, D]
                return acc + jnp.mean(jnp.square(out.mean - y), -1) @ w

            return jax.lax.fori_loop(0, num_chunks, one_chunk, jnp.zeros(e))  # [E]

        def epoch(carry):
            ep, st, best_params, best, ref, since, train_curve, hold_curve, k = carry
            k, epoch_key = jax.random.split(k)

            def step(i, inner):
                st, loss_sum = inner
                pos = jax.random.randint(jax.random.fold_in(epoch_key, i), (e, batch), 0,
                                         jnp.maximum(n_train, 1))  # [E, B]
                if config.bootstrap:
                    pos = bootstrap_rows(boot_key, pos, n_train)
                tb = TrainBatch(*encoded(train_rows[pos]))  # [E, B, ...]
                st, metrics = update(st, tb)
                return st, loss_sum + metrics["loss"]

            st, loss_sum = jax.lax.fori_loop(0, num_batches, step, (st, jnp.zeros(e)))
            mse = holdout_mse(st.params)  # [E]
            better, best, ref, since = track_improvement(
                mse, best, ref, since, config.improvement_threshold)
            best_params = keep_best(config, better, st.params, best_params)
            train_curve = train_curve.at[ep].set(loss_sum / num_batches)
            hold_curve = hold_curve.at[ep].set(mse)
            return ep + 1, st, best_params, best, ref, since, train_curve, hold_curve, k

        def keep_going(carry):
            ep, since = carry[0], carry[5]
            return (ep < config.max_epochs) & (since < config.patience)

        nan_curve = jnp.full((config.max_epochs, e), jnp.nan)
        init = (
            jnp.int32(0),
            state,
            state.params,
            jnp.full((e,), jnp.inf),  # best holdout MSE per member
            jnp.full((e,), jnp.inf),  # reference for the improvement threshold
            jnp.int32(0),
            nan_curve,
            nan_curve,
            loop_key,
        )
        ep, state, best_params, best, _, _, train_curve, hold_curve, _ = jax.lax.while_loop(
            keep_going, epoch, init
        )
        elite_idx = jnp.argsort(best)[: config.num_elites].astype(jnp.int32)
        state = state.replace(params=best_params, holdout_mse=best, elite_idx=elite_idx)
        info = FitInfo(train_curve, hold_curve, ep, best, n_train, eval_count)
        return state, info

    return fit
