"""SAC configuration: static settings (`SACConfig`) and sweepable scalars (`SACHParams`)."""

import dataclasses

import jax.numpy as jnp
import numpy as np
from flax import struct

from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.validation import check_int as _check_int


@struct.dataclass
class SACHParams:
    """Sweepable hyperparameters (float32 arrays, so they can be vmapped like seeds).

    actor_lr, critic_lr, alpha_lr: Adam step sizes of the actor, the twin critics and the
      temperature; gamma: discount; tau: Polyak rate of the target critics
      (`target <- tau * online + (1 - tau) * target`).
    """

    actor_lr: jnp.ndarray
    critic_lr: jnp.ndarray
    alpha_lr: jnp.ndarray
    gamma: jnp.ndarray
    tau: jnp.ndarray

    def validate(self) -> "SACHParams":
        """Check concrete values (all seeds of a sweep); raise ConfigError naming the field."""
        for name in ("actor_lr", "critic_lr", "alpha_lr"):
            _check_range(name, getattr(self, name), 0.0, np.inf, low_open=True)
        _check_range("gamma", self.gamma, 0.0, 1.0)
        _check_range("tau", self.tau, 0.0, 1.0, low_open=True)
        return self


def _check_range(field, value, low, high, low_open=False):
    value = np.asarray(value)
    if not np.all(np.isfinite(value)):
        raise ConfigError(field, f"must be a finite number, got {value}")
    bad = ((value <= low) if low_open else (value < low)) | (value > high)
    if np.any(bad):
        lo = "(" if low_open else "["
        raise ConfigError(field, f"must be in {lo}{low}, {high}], got {value}; "
                                 f"set {field} in that range")



@dataclasses.dataclass(frozen=True)
class SACConfig:
    """Soft actor-critic (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications"):
    twin critics with Polyak targets, a tanh-squashed Gaussian actor, automatic temperature.

    Attributes:
      hidden_sizes: hidden widths of the actor and of each critic.
      activation: hidden activation name (see `mbrl_jax.core.networks.ACTIVATION_NAMES`).
      batch_size: transitions per gradient step.
      buffer_size: replay capacity in transitions (all parallel envs of a seed share it).
      warmup_steps: env steps (per env) at the start with uniformly random actions and no
        gradient updates.
      updates_per_step: G, gradient steps (critic, actor, temperature, Polyak) per env step.
      num_envs: parallel envs per seed; each env step adds `num_envs` transitions.
      total_steps: env steps per env in a run (a multiple of `env_steps_per_iteration`).
      env_steps_per_iteration: F, env steps per driver iteration (metrics stay per env step).
      target_entropy: entropy the temperature steers towards; None means -|A| (the paper's).
      init_alpha: initial temperature.
      log_std_min, log_std_max: clip of the actor's log standard deviation.
      eval_episodes: deterministic episodes run by the Trainer's `evaluate` hook.
      actor_lr, critic_lr, alpha_lr, gamma, tau: defaults of the sweepable `SACHParams`.
    """

    hidden_sizes: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    batch_size: int = 256
    buffer_size: int = 100_000
    warmup_steps: int = 1_000
    updates_per_step: int = 1
    num_envs: int = 1
    total_steps: int = 10_000
    env_steps_per_iteration: int = 1
    target_entropy: float | None = None
    init_alpha: float = 1.0
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    eval_episodes: int = 10
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005

    @classmethod
    def tiny(cls, **overrides) -> "SACConfig":
        """A run of a few seconds on the CPU (8-unit networks, 40 steps): for tests and smoke
        runs, not for learning."""
        return cls(**{"total_steps": 40, "hidden_sizes": (8,), "batch_size": 8,
                      "warmup_steps": 20, "num_envs": 2, **overrides})

    @property
    def num_iterations(self) -> int:
        return self.total_steps // self.env_steps_per_iteration

    def hparams(self) -> SACHParams:
        return SACHParams(
            actor_lr=jnp.float32(self.actor_lr),
            critic_lr=jnp.float32(self.critic_lr),
            alpha_lr=jnp.float32(self.alpha_lr),
            gamma=jnp.float32(self.gamma),
            tau=jnp.float32(self.tau),
        )

    def validate(self) -> "SACConfig":
        """Raise ConfigError (naming the field and what to change) on any invalid value."""
        from mbrl_jax.core.networks import ACTIVATION_NAMES

        sizes = self.hidden_sizes
        if (not isinstance(sizes, tuple) or not sizes
                or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0
                           for h in sizes)):
            raise ConfigError("hidden_sizes",
                              f"must be a non-empty tuple of positive ints, got {sizes!r}")
        if self.activation not in ACTIVATION_NAMES:
            raise ConfigError("activation",
                              f"must be one of {ACTIVATION_NAMES}, got {self.activation!r}")
        for name in ("batch_size", "buffer_size", "updates_per_step", "num_envs",
                     "total_steps", "env_steps_per_iteration", "eval_episodes"):
            _check_int(name, getattr(self, name), minimum=0 if name == "eval_episodes" else 1)
        _check_int("warmup_steps", self.warmup_steps, minimum=0)
        if self.total_steps % self.env_steps_per_iteration:
            raise ConfigError("total_steps", f"must be a multiple of env_steps_per_iteration="
                                             f"{self.env_steps_per_iteration}, got "
                                             f"{self.total_steps}")
        if self.target_entropy is not None and not np.isfinite(self.target_entropy):
            raise ConfigError("target_entropy", f"must be finite or None, got "
                                                f"{self.target_entropy}")
        _check_range("init_alpha", self.init_alpha, 0.0, np.inf, low_open=True)
        for name in ("log_std_min", "log_std_max"):
            _check_range(name, getattr(self, name), -np.inf, np.inf)
        if self.log_std_min >= self.log_std_max:
            raise ConfigError("log_std_min", f"must be below log_std_max={self.log_std_max}, "
                                             f"got {self.log_std_min}")
        self.hparams().validate()
        return self
