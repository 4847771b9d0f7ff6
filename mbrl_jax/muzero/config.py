"""MuZero configuration: static shapes and loop lengths, validated before tracing."""

import dataclasses
import warnings
from typing import Literal

import jax.numpy as jnp
import numpy as np
from flax import struct

from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.validation import check_int as _check_int
from mbrl_jax.core.validation import check_range

SEARCHES = ("muzero", "gumbel")


@struct.dataclass
class MuZeroHParams:
    """Sweepable numbers: gamma, the discount of the search and the n-step targets;
    value_loss_weight."""

    gamma: jnp.ndarray
    value_loss_weight: jnp.ndarray

    def validate(self) -> "MuZeroHParams":
        """Check concrete values (every point of a sweep); raise ConfigError naming the field."""
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("value_loss_weight", self.value_loss_weight, 0.0, np.inf)
        return self


@dataclasses.dataclass(frozen=True)
class MuZeroConfig:
    """MuZero (Schrittwieser et al. 2020), optionally with Gumbel root search (Danihelka et al.
    2022), trained on self-play in `num_envs` vmapped envs.

    One iteration: `env_steps_per_iteration` env steps in every env (a search per step), then
    `updates_per_iteration` gradient steps on batches of `batch_size` positions from the replay.

    Attributes:
      total_steps: env steps per env (a run has total_steps // env_steps_per_iteration iterations).
      num_envs: parallel envs self-playing.
      env_steps_per_iteration: env steps per iteration (F).
      updates_per_iteration: gradient updates per iteration (G).
      batch_size: positions per update.
      num_simulations: search simulations per step.
      search: "muzero" (pUCT with Dirichlet noise) or "gumbel" (Gumbel MuZero; the policy target
        is the improved policy).
      max_num_considered_actions: Gumbel's k.
      q_normalisation: pUCT's "parent_and_siblings" (mctx default) or "tree" (the paper).
      dirichlet_alpha, dirichlet_fraction: root noise (pUCT only).
      temperatures: action-sampling temperatures (pUCT): the first until 50% of the run's
        steps, the second until 75%, the third after (the paper's schedule by training
        progress).
      unroll_steps: K, dynamics steps unrolled per sampled position.
      td_steps: n of the n-step value targets.
      value_bootstrap: what the n-step targets bootstrap from: "search" (the root value stored
        when the step was played) or "network" (the current networks' value of the stored
        observation, recomputed at every update without gradient: fresh as the replay ages,
        like MuZero Reanalyze's values).
      buffer_size: env steps of trajectory kept per env (the sequences the windows are cut
        from); must exceed unroll_steps + td_steps.
      support_size: S, value and reward categorical over -S..S after h(x): values up to
        h^-1(S) can be represented (about 117 for S = 10, 440 for S = 20).
      max_abs_reward: a bound on |reward| per step. With the env's `max_steps_in_episode` and the
        discount it bounds |return|; `make_trainer` (and a sweep's hparams check) warn with
        `SupportWarning` when that bound exceeds h^-1(S), naming the support size that holds it.
      hidden_sizes, latent_size: MLP widths and hidden-state size D.
      conv: a small conv torso under the representation (MinAtar grids).
      learning_rate, max_grad_norm: Adam and global-norm clipping.
      gamma, value_loss_weight: defaults of `MuZeroHParams` (gamma: the discount).
      eval_episodes, eval_max_steps: `Trainer.evaluate` (search with temperature 0).
    """

    total_steps: int = 20_000
    num_envs: int = 8
    env_steps_per_iteration: int = 16
    updates_per_iteration: int = 4
    batch_size: int = 128
    num_simulations: int = 16
    search: Literal["muzero", "gumbel"] = "muzero"
    max_num_considered_actions: int = 16
    q_normalisation: str = "parent_and_siblings"
    dirichlet_alpha: float = 0.3
    dirichlet_fraction: float = 0.25
    temperatures: tuple = (1.0, 0.5, 0.25)
    unroll_steps: int = 5
    td_steps: int = 10
    value_bootstrap: Literal["search", "network"] = "search"
    buffer_size: int = 2000
    support_size: int = 10
    max_abs_reward: float = 1.0
    hidden_sizes: tuple = (64,)
    latent_size: int = 64
    conv: bool = False
    learning_rate: float = 1e-3
    max_grad_norm: float = 5.0
    gamma: float = 0.99
    value_loss_weight: float = 0.25
    eval_episodes: int = 8
    eval_max_steps: int = 500

    @classmethod
    def tiny(cls, **overrides) -> "MuZeroConfig":
        """A run of a few seconds on the CPU (8-unit networks, 4 simulations, 32 steps in 2
        envs): for tests and smoke runs, not for learning."""
        return cls(**{
            "total_steps": 32, "num_envs": 2, "num_simulations": 4, "updates_per_iteration": 1,
            "batch_size": 8, "hidden_sizes": (8,), "latent_size": 8, "unroll_steps": 2,
            "td_steps": 3, **overrides})

    @property
    def num_iterations(self) -> int:
        return self.total_steps // self.env_steps_per_iteration

    def hparams(self) -> MuZeroHParams:
        return MuZeroHParams(gamma=jnp.float32(self.gamma),
                             value_loss_weight=jnp.float32(self.value_loss_weight))

    def validate(self) -> "MuZeroConfig":
        """Raise ConfigError (naming the field and what to change) on any invalid value."""
        for field, minimum in (("total_steps", 1), ("num_envs", 1), ("env_steps_per_iteration", 1),
                               ("updates_per_iteration", 1), ("batch_size", 1),
                               ("num_simulations", 1), ("max_num_considered_actions", 1),
                               ("unroll_steps", 1), ("td_steps", 1), ("buffer_size", 2),
                               ("support_size", 1), ("latent_size", 1), ("eval_episodes", 1),
                               ("eval_max_steps", 1)):
            _check_int(field, getattr(self, field), minimum)
        if self.total_steps < self.env_steps_per_iteration:
            raise ConfigError("total_steps", f"must be at least env_steps_per_iteration "
                              f"({self.env_steps_per_iteration}), got {self.total_steps}")
        if self.search not in SEARCHES:
            raise ConfigError("search", f"must be one of {SEARCHES}, got {self.search!r}")
        if self.value_bootstrap not in ("search", "network"):
            raise ConfigError("value_bootstrap", "must be 'search' or 'network', "
                              f"got {self.value_bootstrap!r}")
        if self.q_normalisation not in ("parent_and_siblings", "tree"):
            raise ConfigError("q_normalisation", "must be 'parent_and_siblings' or 'tree', "
                              f"got {self.q_normalisation!r}")
        if self.env_steps_per_iteration > self.buffer_size:
            raise ConfigError(
                "env_steps_per_iteration", f"must be at most buffer_size ({self.buffer_size}), "
                f"got {self.env_steps_per_iteration}: one iteration's steps would overwrite each "
                "other before any update sees them")
        if self.unroll_steps + self.td_steps >= self.buffer_size:
            raise ConfigError(
                "unroll_steps", f"unroll_steps + td_steps ({self.unroll_steps} + "
                f"{self.td_steps}) must be shorter than buffer_size ({self.buffer_size}), "
                "the sequences windows are cut from; shorten the unroll or lengthen the replay")
        if len(self.temperatures) != 3 or any(t < 0 for t in self.temperatures):
            raise ConfigError("temperatures", f"must be 3 values >= 0, got {self.temperatures}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError("gamma", f"must be in [0, 1], got {self.gamma}")
        for field in ("learning_rate", "max_grad_norm", "dirichlet_alpha", "max_abs_reward"):
            value = getattr(self, field)
            if not (np.isfinite(value) and value > 0):
                raise ConfigError(field, f"must be a positive number, got {value}")
        if not 0.0 <= self.dirichlet_fraction <= 1.0:
            raise ConfigError("dirichlet_fraction", f"must be in [0, 1], got "
                              f"{self.dirichlet_fraction}")
        return self


class SupportWarning(UserWarning):
    """The value support cannot represent the returns the env and discount can give."""


def return_bound(discount: float, max_abs_reward: float, horizon: int | None) -> float:
    """Largest |discounted return| of `horizon` steps of reward at most `max_abs_reward` (an
    unbounded horizon when None): max_abs_reward * (1 - discount^T) / (1 - discount)."""
    if discount >= 1.0:
        return float("inf") if horizon is None else max_abs_reward * horizon
    geometric = 1.0 if horizon is None else 1.0 - discount ** horizon
    return max_abs_reward * geometric / (1.0 - discount)


def check_support(config: "MuZeroConfig", discount: float, horizon: int | None) -> None:
    """Warn (`SupportWarning`) when returns can exceed what the support represents, h^-1(S)."""
    from mbrl_jax.muzero.networks import inverse_value_transform, value_transform

    bound = return_bound(float(discount), config.max_abs_reward, horizon)
    limit = float(inverse_value_transform(np.float32(config.support_size)))
    if bound > limit:
        needed = ("(none: the return is unbounded)" if not np.isfinite(bound)
                  else int(np.ceil(float(value_transform(np.float32(bound))))))
        warnings.warn(SupportWarning(
            f"support_size={config.support_size} represents values up to {limit:.0f}, but "
            f"returns at discount {float(discount):g} over {horizon} steps of |reward| <= "
            f"{config.max_abs_reward:g} reach {bound:.0f}: value targets above {limit:.0f} are "
            f"clipped. support_size {needed} holds them (or set max_abs_reward to the env's "
            "reward scale, or lower gamma)"), stacklevel=3)
