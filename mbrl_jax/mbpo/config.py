"""MBPO configuration (Janner et al. 2019, "When to Trust Your Model"): static settings only.

The sweepable numbers are SAC's (`SACHParams`: learning rates, gamma, tau).
"""

import dataclasses

import numpy as np

from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.validation import check_int as _check_int
from mbrl_jax.models import EnsembleConfig
from mbrl_jax.sac.config import SACConfig

TERMINATIONS = ("env", "learned", "none")



@dataclasses.dataclass(frozen=True)
class MBPOConfig:
    """Model-based policy optimisation: SAC trained mostly on short branched model rollouts.

    A run is iterations of F = `env_steps_per_iteration` env steps (MBPO's model-train period,
    250 in the paper). Each env step takes G = `updates_per_step` SAC updates on batches mixing
    real and model transitions; after the F steps the ensemble is refitted on the env buffer
    (warm-started, holdout early stopping, elites) and `rollout_starts` branched rollouts from
    real states refill the model buffer. Where the paper and mbrl-lib differ, the default is
    the paper's.

    Attributes:
      total_steps: env steps per seed (a multiple of F).
      env_steps_per_iteration: F, env steps between model refits (paper: 250).
      warmup_steps: env steps of uniformly random actions at the start (no SAC updates while
        warm; the model is first fitted at the end of the first iteration).
      num_envs: parallel envs per seed; each env step adds `num_envs` real transitions (the G
        SAC updates, the refit period F and the warm-up count env steps of the batch of envs).
      buffer_size: capacity of the real-transition buffer (paper: 10^6; at most
        total_steps * num_envs rows are ever used, so the smaller of the two is allocated).
      rollout_starts: M, real start states per refit, rolled out all at once (paper: 10^5 per
        250 steps, i.e. 400 per env step).
      rollout_schedule: (a, b, h_a, h_b) the paper's linear horizon schedule, in env steps
        here (the paper counts epochs of 1000 steps): horizon h_a before step a, h_b after b,
        linear between (rounded down). max(h_a, h_b) is the static scan length; shorter
        horizons are masks.
      model_retain_periods: refits whose rollouts the model buffer keeps (paper: one epoch of
        1000 steps = 4 periods of 250).
      real_ratio: fraction of each SAC batch drawn from real data (paper: 0.05); the rest from
        the model buffer (real data while it is empty).
      updates_per_step: G, SAC updates per env step (paper: 20; 10 on simple tasks).
      disagreement_threshold: cut a rollout where the ensemble's disagreement (see
        `models.Prediction.disagreement`) exceeds this; None (the paper) never cuts. The
        tutorial uses 0.5. Measuring it evaluates every elite per particle (about K times the
        rollout cost).
      termination: "env" (a known termination function of the env, `termination_fn`), "learned"
        (the ensemble's termination head) or "none".
      model: the ensemble; None means `EnsembleConfig.mbpo` (the paper's recipe). Its obs and
        action sizes are set from the env.
      sac: SAC's networks, batch size, temperature and learning rates (its run-length fields,
        total_steps, warmup_steps, num_envs, buffer_size, ..., are not used by MBPO).
      eval_episodes: deterministic episodes run by the Trainer's `evaluate` hook.
    """

    total_steps: int = 5_000
    env_steps_per_iteration: int = 250
    warmup_steps: int = 250
    num_envs: int = 1
    buffer_size: int = 1_000_000
    rollout_starts: int = 10_000
    rollout_schedule: tuple[int, int, int, int] = (0, 1, 1, 1)
    model_retain_periods: int = 4
    real_ratio: float = 0.05
    updates_per_step: int = 20
    disagreement_threshold: float | None = None
    termination: str = "env"
    model: EnsembleConfig | None = None
    sac: SACConfig = SACConfig()
    eval_episodes: int = 5

    @classmethod
    def tiny(cls, **overrides) -> "MBPOConfig":
        """A run of a few seconds on the CPU (two refits of an 8-unit ensemble, 8 rollouts):
        for tests and smoke runs, not for learning."""
        return cls(**{
            "total_steps": 20, "env_steps_per_iteration": 10, "warmup_steps": 10,
            "rollout_starts": 8, "updates_per_step": 1,
            "model": EnsembleConfig.mbpo(1, 1, hidden_sizes=(8,), max_epochs=2),
            "sac": SACConfig(hidden_sizes=(8, 8), batch_size=8), **overrides})

    @property
    def num_iterations(self) -> int:
        return self.total_steps // self.env_steps_per_iteration

    @property
    def max_horizon(self) -> int:
        """Static rollout length: the schedule's largest horizon."""
        return max(self.rollout_schedule[2], self.rollout_schedule[3])

    @property
    def env_capacity(self) -> int:
        return min(self.buffer_size, self.total_steps * self.num_envs)

    def model_config(self, obs_dim: int, action_dim: int) -> EnsembleConfig:
        """The ensemble for an env with these sizes (continuous actions)."""
        base = self.model or EnsembleConfig.mbpo(obs_dim, action_dim)
        return dataclasses.replace(base, obs_dim=obs_dim, action_dim=action_dim,
                                   discrete_actions=False,
                                   learn_termination=self.termination == "learned")

    def validate(self) -> "MBPOConfig":
        """Raise ConfigError (naming the field and what to change) on any invalid value."""
        for name in ("total_steps", "env_steps_per_iteration", "buffer_size", "num_envs",
                     "rollout_starts", "model_retain_periods", "updates_per_step"):
            _check_int(name, getattr(self, name), minimum=1)
        _check_int("warmup_steps", self.warmup_steps, minimum=0)
        _check_int("eval_episodes", self.eval_episodes, minimum=0)
        if self.total_steps % self.env_steps_per_iteration:
            raise ConfigError("total_steps", f"must be a multiple of env_steps_per_iteration="
                                             f"{self.env_steps_per_iteration}, got "
                                             f"{self.total_steps}")
        schedule = self.rollout_schedule
        if not (isinstance(schedule, tuple) and len(schedule) == 4):
            raise ConfigError("rollout_schedule", f"must be a tuple (a, b, h_a, h_b), got "
                                                  f"{schedule!r}")
        for value in schedule:
            _check_int("rollout_schedule", value, minimum=0)
        if schedule[2] < 1 or schedule[3] < 1:
            raise ConfigError("rollout_schedule", f"horizons must be >= 1 (a rollout horizon "
                                                  f"of 0 stores no model data), got {schedule}")
        if schedule[1] < schedule[0]:
            raise ConfigError("rollout_schedule", f"needs a <= b, got {schedule}")
        if not (np.isfinite(self.real_ratio) and 0.0 <= self.real_ratio <= 1.0):
            raise ConfigError("real_ratio", f"must be in [0, 1], got {self.real_ratio}")
        if self.disagreement_threshold is not None and not self.disagreement_threshold > 0:
            raise ConfigError("disagreement_threshold",
                              f"must be > 0 or None, got {self.disagreement_threshold}")
        if self.termination not in TERMINATIONS:
            raise ConfigError("termination", f"must be one of {TERMINATIONS}, got "
                                             f"{self.termination!r}")
        self.sac.validate()
        return self
