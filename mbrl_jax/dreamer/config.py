"""DreamerV3 configuration: one frozen dataclass of static settings, validated before tracing.

Defaults follow the current DreamerV3 code generation (Hafner et al., Nature 2025 code) where it
fits a small CPU budget; every departure is listed in the package docstring (`dreamer/__init__`).
"""

import dataclasses
import math

import jax.numpy as jnp
import numpy as np
from flax import struct

from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.validation import check_int as _check_int
from mbrl_jax.core.validation import check_range

ACTOR_GRADS = ("reinforce", "dynamics")


@struct.dataclass
class DreamerHParams:
    """Sweepable numbers (float32 arrays, vmapped like seeds): the three Adam learning rates,
    the discount and lambda of the lambda-returns, and the actor's entropy scale."""

    model_lr: jnp.ndarray
    actor_lr: jnp.ndarray
    critic_lr: jnp.ndarray
    gamma: jnp.ndarray
    lambda_: jnp.ndarray
    entropy_scale: jnp.ndarray

    def validate(self) -> "DreamerHParams":
        """Check concrete values (every point of a sweep); raise ConfigError naming the field."""
        for name in ("model_lr", "actor_lr", "critic_lr"):
            check_range(name, getattr(self, name), 0.0, np.inf, low_open=True)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("lambda_", self.lambda_, 0.0, 1.0)
        check_range("entropy_scale", self.entropy_scale, 0.0, np.inf)
        return self


@dataclasses.dataclass(frozen=True)
class DreamerConfig:
    """Settings that fix shapes and loop lengths, plus the loss scales and learning rates.

    Interaction:
      total_steps: env steps per env stream in a run (a multiple of `env_steps_per_iteration`).
      num_envs: parallel gymnax envs per seed (vmapped).
      env_steps_per_iteration: F, env steps per iteration; the updates due follow each iteration.
      train_ratio: replayed steps per env step (DreamerV3's definition). Gradient updates per
        iteration = train_ratio * F * num_envs / (batch_size * sequence_length), which must be a
        whole number >= 1 (see `updates_per_iteration`, `updates_per_env_step`).
      warmup_steps: env steps (per stream) of uniformly random actions before updates begin.
      buffer_size: rows per env stream in the sequence replay.
    World model:
      batch_size, sequence_length: replayed windows per update and their length.
      deter_size: GRU width.
      stoch_groups, stoch_classes: categorical latents, groups x classes.
      unimix: uniform mixing of every categorical (0.01).
      hidden_size, num_layers: width and hidden layers of the MLP heads and the encoder.
      num_bins, bin_range: two-hot bins, symexp-spaced from -bin_range to bin_range in symlog
        space.
      free_bits, dyn_scale, rep_scale: KL clipped below `free_bits` nats; dynamics (sg posterior)
        and representation (sg prior) scales.
      rec_scale, reward_scale, cont_scale: loss scales of the decoder, reward and continue heads.
    Behaviour:
      horizon: imagination steps from every posterior state.
      gamma, lambda_: discount and lambda of the lambda-returns.
      center_advantages: subtract the batch's weighted mean from REINFORCE advantages (not in
        DreamerV3; off by default). A critic still climbing towards its targets makes every
        advantage positive by about the same amount, which then only adds noise to the policy
        gradient (see `math.reinforce_advantage`).
      entropy_scale: actor entropy bonus.
      actor_grad_continuous: "dynamics" (backprop through the world model) or "reinforce" for
        continuous actions (discrete always use REINFORCE).
      slow_critic_rate, slow_critic_scale: EMA rate of the slow critic and its regulariser scale.
      return_norm_rate: EMA rate of the 5th-95th percentile range of returns; returns are
        divided by max(1, range).
      model_lr, actor_lr, critic_lr: Adam learning rates.
      model_eps, actor_eps, critic_eps: Adam epsilons (1e-8 for the model, 1e-5 for actor and
        critic as in DreamerV3's 2023 configs: the larger epsilon damps the actor's tiny, noisy
        gradients once advantages are near zero instead of scaling them up to full steps).
      model_clip, actor_clip, critic_clip: global-norm gradient clips.
      eval_episodes, eval_max_steps: episodes of `Trainer.evaluate`.
    """

    total_steps: int = 50_000
    num_envs: int = 1
    env_steps_per_iteration: int = 16
    train_ratio: float = 32.0
    warmup_steps: int = 1024
    buffer_size: int = 100_000
    batch_size: int = 16
    sequence_length: int = 32
    deter_size: int = 256
    stoch_groups: int = 16
    stoch_classes: int = 16
    unimix: float = 0.01
    hidden_size: int = 256
    num_layers: int = 2
    num_bins: int = 255
    bin_range: float = 20.0
    free_bits: float = 1.0
    dyn_scale: float = 1.0
    rep_scale: float = 0.1
    rec_scale: float = 1.0
    reward_scale: float = 1.0
    cont_scale: float = 1.0
    horizon: int = 15
    gamma: float = 1 - 1 / 333
    lambda_: float = 0.95
    entropy_scale: float = 3e-4
    center_advantages: bool = False
    actor_grad_continuous: str = "dynamics"
    slow_critic_rate: float = 0.02
    slow_critic_scale: float = 1.0
    return_norm_rate: float = 0.01
    model_lr: float = 1e-4
    actor_lr: float = 3e-5
    critic_lr: float = 3e-5
    model_eps: float = 1e-8
    actor_eps: float = 1e-5
    critic_eps: float = 1e-5
    model_clip: float = 1000.0
    actor_clip: float = 100.0
    critic_clip: float = 100.0
    eval_episodes: int = 4
    eval_max_steps: int = 500

    @property
    def stoch_size(self) -> int:
        return self.stoch_groups * self.stoch_classes

    @property
    def feat_size(self) -> int:
        return self.deter_size + self.stoch_size

    @classmethod
    def tiny(cls, **overrides) -> "DreamerConfig":
        """A run of a few seconds on the CPU (8-unit networks, 32 steps, 2 x 4 latents): for
        tests and smoke runs, not for learning."""
        return cls(**{
            "total_steps": 32, "env_steps_per_iteration": 8, "warmup_steps": 16,
            "batch_size": 2, "sequence_length": 8, "train_ratio": 2.0, "deter_size": 8,
            "hidden_size": 8, "num_layers": 1, "stoch_groups": 2, "stoch_classes": 4,
            "horizon": 3, "buffer_size": 64, **overrides})

    @property
    def num_iterations(self) -> int:
        return self.total_steps // self.env_steps_per_iteration

    def hparams(self) -> DreamerHParams:
        """The sweepable values of this config, as `DreamerHParams`."""
        return DreamerHParams(
            model_lr=jnp.float32(self.model_lr), actor_lr=jnp.float32(self.actor_lr),
            critic_lr=jnp.float32(self.critic_lr), gamma=jnp.float32(self.gamma),
            lambda_=jnp.float32(self.lambda_), entropy_scale=jnp.float32(self.entropy_scale))

    @property
    def updates_per_iteration(self) -> int:
        replayed = self.train_ratio * self.env_steps_per_iteration * self.num_envs
        return int(round(replayed / (self.batch_size * self.sequence_length)))

    @property
    def updates_per_env_step(self) -> float:
        """Gradient updates per env step (all streams of a seed counted)."""
        return self.updates_per_iteration / (self.env_steps_per_iteration * self.num_envs)

    def validate(self) -> "DreamerConfig":
        """Raise ConfigError naming the first invalid field and what to change."""
        for name in ("total_steps", "num_envs", "env_steps_per_iteration", "buffer_size",
                     "batch_size", "sequence_length", "deter_size", "stoch_groups",
                     "stoch_classes", "hidden_size", "horizon", "eval_episodes",
                     "eval_max_steps"):
            _check_int(name, getattr(self, name), 1)
        _check_int("num_layers", self.num_layers, 0)
        _check_int("warmup_steps", self.warmup_steps, 0)
        _check_int("num_bins", self.num_bins, 3)
        if self.num_bins % 2 == 0:
            raise ConfigError("num_bins", f"must be odd (a bin at exactly 0), got {self.num_bins}")
        if self.total_steps % self.env_steps_per_iteration:
            raise ConfigError("total_steps", f"must be a multiple of env_steps_per_iteration "
                                             f"({self.env_steps_per_iteration}), got "
                                             f"{self.total_steps}")
        if self.warmup_steps < self.sequence_length:
            raise ConfigError("warmup_steps", f"must be >= sequence_length "
                                               f"({self.sequence_length}) so replayed windows "
                                               f"hold written steps, got {self.warmup_steps}")
        if self.sequence_length > self.buffer_size:
            raise ConfigError("sequence_length", "must not exceed buffer_size")
        _check_float("train_ratio", self.train_ratio, 0.0, math.inf, low_open=True)
        replayed = self.train_ratio * self.env_steps_per_iteration * self.num_envs
        per_update = self.batch_size * self.sequence_length
        if replayed / per_update < 0.5 or abs(replayed / per_update
                                               - self.updates_per_iteration) > 1e-6:
            raise ConfigError(
                "train_ratio", f"train_ratio * env_steps_per_iteration * num_envs = {replayed:g} "
                f"must be a whole multiple (>= 1) of batch_size * sequence_length = {per_update}; "
                "change train_ratio or env_steps_per_iteration")
        # unimix > 0 keeps every log-probability finite (the KL of an exact zero is NaN).
        _check_float("unimix", self.unimix, 0.0, 1.0, low_open=True, high_open=True)
        _check_float("gamma", self.gamma, 0.0, 1.0)
        _check_float("lambda_", self.lambda_, 0.0, 1.0)
        _check_float("bin_range", self.bin_range, 0.0, math.inf, low_open=True)
        for name in ("free_bits", "dyn_scale", "rep_scale", "rec_scale", "reward_scale",
                     "cont_scale", "entropy_scale", "slow_critic_scale"):
            _check_float(name, getattr(self, name), 0.0, math.inf)
        for name in ("slow_critic_rate", "return_norm_rate"):
            _check_float(name, getattr(self, name), 0.0, 1.0, low_open=True)
        for name in ("model_lr", "actor_lr", "critic_lr", "model_eps", "actor_eps",
                     "critic_eps", "model_clip", "actor_clip", "critic_clip"):
            _check_float(name, getattr(self, name), 0.0, math.inf, low_open=True)
        if not isinstance(self.center_advantages, bool):
            raise ConfigError("center_advantages", f"must be True or False, got "
                                                   f"{self.center_advantages!r}")
        if self.actor_grad_continuous not in ACTOR_GRADS:
            raise ConfigError("actor_grad_continuous", f"must be one of {ACTOR_GRADS}, got "
                                                       f"{self.actor_grad_continuous!r}")
        return self



def _check_float(field, value, low, high, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ConfigError(field, f"must be a number, got {value!r}")
    if math.isnan(value) or math.isinf(value):
        raise ConfigError(field, f"must be finite, got {value}")
    bad = (value <= low if low_open else value < low) or (
        value >= high if high_open else value > high)
    if bad:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ConfigError(field, f"must be in {lo}{low}, {high}{hi}, got {value}")
