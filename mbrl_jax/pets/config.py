"""PETS configuration (Chua et al. 2018, "Deep Reinforcement Learning in a Handful of Trials
using Probabilistic Dynamics Models"): static settings (`PETSConfig`) and the sweepable planning
discount (`PETSHParams`).

The defaults are the Pendulum-v1 preset measured in docs/results.md (a small ensemble and
planner sized for a CPU); the paper's sizes are larger (see the field docs).
"""

import dataclasses

import jax.numpy as jnp
from flax import struct

from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.validation import check_int, check_range
from mbrl_jax.models import EnsembleConfig
from mbrl_jax.planning import CEMConfig, MPPIConfig

PLANNERS = ("cem", "mppi")
PROPAGATIONS = ("fixed_member", "random_member")  # TS-inf, TS-1
REWARDS = ("env", "learned")
TERMINATIONS = ("env", "learned", "none")


@struct.dataclass
class PETSHParams:
    """Sweepable numbers (float32 arrays, vmapped like seeds).

    gamma: discount of the rewards summed over the planning horizon, in [0, 1] (PETS: 1, the
      undiscounted sum).
    """

    gamma: jnp.ndarray

    def validate(self) -> "PETSHParams":
        """Check concrete values (every point of a sweep); raise ConfigError naming the field."""
        check_range("gamma", self.gamma, 0.0, 1.0)
        return self


def default_model(obs_dim: int, action_dim: int, **overrides) -> EnsembleConfig:
    """The preset's ensemble: 5 probabilistic members of 3 x 64 swish units, every member an
    elite (PETS samples all members), bootstrapped, holdout 20%, at most 50 epochs per refit,
    stopped after 5 without a 1% gain. PETS's own: 5 members of 4 x 200 (Pendulum: 3 x 200)."""
    fields = dict(obs_dim=obs_dim, action_dim=action_dim, ensemble_size=5, num_elites=5,
                  hidden_sizes=(64, 64, 64), activation="swish", batch_size=32, max_epochs=50,
                  patience=5, weight_decay=0.0)
    fields.update(overrides)
    return EnsembleConfig(**fields)


@dataclasses.dataclass(frozen=True)
class PETSConfig:
    """Probabilistic ensembles with trajectory sampling: model-predictive control over a
    bootstrapped ensemble of Gaussian dynamics models, refitted on all data every F env steps.

    Every env step plans an action sequence with the chosen optimiser (CEM, as the paper, or
    MPPI) warm-started from the previous step's plan shifted by one, scores each candidate by
    the mean return of `num_particles` particles propagated through the ensemble, and acts on
    the plan's first action. A run is iterations of F = `env_steps_per_iteration` env steps;
    after each iteration the ensemble is refitted (warm-started, holdout early stopping) on the
    whole buffer, so the refit runs exactly once per F env steps.

    Attributes:
      total_steps: env steps per env in a run (a multiple of F).
      env_steps_per_iteration: F, env steps between ensemble refits (PETS: one refit per
        episode, 200 steps on Pendulum).
      warmup_steps: env steps of uniformly random actions at the start (the ensemble is first
        fitted at the end of the first iteration).
      num_envs: parallel envs per seed, each planning for itself; every env step adds num_envs
        transitions.
      buffer_size: capacity of the transition buffer (at most total_steps * num_envs rows are
        ever used, so the smaller of the two is allocated).
      planner: the optimiser of action sequences, "cem" (PETS) or "mppi".
      cem: CEM's horizon, population, elites and iterations (PETS: horizon 25-30, 400-500
        candidates, 40-50 elites, 5 iterations).
      mppi: MPPI's horizon, population, iterations, temperature, noise and smoothing.
      num_particles: particles per candidate sequence (PETS: 20).
      propagation: "fixed_member" (TS-inf: each particle keeps one member for the whole
        horizon) or "random_member" (TS-1: each particle's member is redrawn every step).
      reward: "env", the env's known reward function of (obs, action, next_obs) (as PETS; see
        `pets.REWARD_FNS`, or pass `reward_fn=` to `make_trainer`), or "learned", the
        ensemble's reward head.
      termination: "env" (the env's known termination function, `mbpo.TERMINATION_FNS`),
        "learned" (the ensemble's termination head) or "none".
      model: the ensemble; None means `pets.config.default_model` (its `max_epochs` and
        `patience` set the epochs per refit). Its obs and action sizes are set from the env.
      eval_episodes: episodes of the planner (no warm-up) run by the Trainer's `evaluate` hook.
      gamma: default of the sweepable `PETSHParams.gamma`, the discount over the horizon.
    """

    total_steps: int = 3_000
    env_steps_per_iteration: int = 100
    warmup_steps: int = 200
    num_envs: int = 1
    buffer_size: int = 100_000
    planner: str = "cem"
    cem: CEMConfig = CEMConfig(horizon=30, population_size=100, num_elites=10, num_iterations=3)
    mppi: MPPIConfig = MPPIConfig(horizon=30, population_size=100, num_iterations=3,
                                  temperature=1.0, noise_std=0.5)
    num_particles: int = 5
    propagation: str = "fixed_member"
    reward: str = "env"
    termination: str = "env"
    model: EnsembleConfig | None = None
    eval_episodes: int = 5
    gamma: float = 1.0

    @classmethod
    def pendulum(cls, **overrides) -> "PETSConfig":
        """The Pendulum-v1 preset of docs/results.md: the defaults."""
        return cls(**overrides)

    @classmethod
    def tiny(cls, **overrides) -> "PETSConfig":
        """A run of a few seconds on the CPU (two refits of an 8-unit ensemble, 8 candidates of
        4 steps): for tests and smoke runs, not for learning."""
        return cls(**{
            "total_steps": 20, "env_steps_per_iteration": 10, "warmup_steps": 10,
            "cem": CEMConfig(horizon=4, population_size=8, num_elites=2, num_iterations=2),
            "mppi": MPPIConfig(horizon=4, population_size=8, num_iterations=2),
            "num_particles": 2, "eval_episodes": 1,
            "model": default_model(1, 1, ensemble_size=2, num_elites=2, hidden_sizes=(8,),
                                   batch_size=8, max_epochs=2), **overrides})

    @property
    def num_iterations(self) -> int:
        return self.total_steps // self.env_steps_per_iteration

    @property
    def capacity(self) -> int:
        return min(self.buffer_size, self.total_steps * self.num_envs)

    @property
    def optimiser(self) -> CEMConfig | MPPIConfig:
        """The planner's config: `cem` or `mppi`, by `planner`."""
        return self.cem if self.planner == "cem" else self.mppi

    def model_config(self, obs_dim: int, action_dim: int) -> EnsembleConfig:
        """The ensemble for an env with these sizes (continuous actions)."""
        base = self.model or default_model(obs_dim, action_dim)
        return dataclasses.replace(base, obs_dim=obs_dim, action_dim=action_dim,
                                   discrete_actions=False,
                                   learn_termination=self.termination == "learned")

    def hparams(self) -> PETSHParams:
        return PETSHParams(gamma=jnp.float32(self.gamma))

    def validate(self) -> "PETSConfig":
        """Raise ConfigError (naming the field and what to change) on any invalid value."""
        for name in ("total_steps", "env_steps_per_iteration", "num_envs", "buffer_size",
                     "num_particles"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("warmup_steps", self.warmup_steps, minimum=0)
        check_int("eval_episodes", self.eval_episodes, minimum=0)
        if self.total_steps % self.env_steps_per_iteration:
            raise ConfigError("total_steps", f"must be a multiple of env_steps_per_iteration="
                                             f"{self.env_steps_per_iteration}, got "
                                             f"{self.total_steps}")
        for name, allowed in (("planner", PLANNERS), ("propagation", PROPAGATIONS),
                              ("reward", REWARDS), ("termination", TERMINATIONS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(name, f"must be one of {allowed}, got "
                                        f"{getattr(self, name)!r}")
        if not isinstance(self.cem, CEMConfig):
            raise ConfigError("cem", f"must be a CEMConfig, got {type(self.cem).__name__}")
        if not isinstance(self.mppi, MPPIConfig):
            raise ConfigError("mppi", f"must be an MPPIConfig, got {type(self.mppi).__name__}")
        if self.model is not None and not isinstance(self.model, EnsembleConfig):
            raise ConfigError("model", f"must be an EnsembleConfig or None, got "
                                       f"{type(self.model).__name__}")
        for prefix, nested in ((self.planner, self.optimiser), ("model", self.model_config(1, 1))):
            try:
                nested.validate()
            except ConfigError as err:  # name the nested field as its flag does: cem.horizon
                raise ConfigError(f"{prefix}.{err.field}", str(err).split(": ", 1)[1]) from None
        self.hparams().validate()
        return self
