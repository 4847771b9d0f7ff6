"""Dyna-Q / Dyna-Q+ configuration: static shape/loop settings and sweepable hyperparameters."""

import dataclasses
from typing import Literal

import jax.numpy as jnp
import numpy as np
from flax import struct

from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.validation import check_int, check_range

Variant = Literal["dyna-q", "dyna-q+"]
PlanningDraw = Literal["state_then_action", "observed_pair"]
VARIANTS = ("dyna-q", "dyna-q+")
PLANNING_DRAWS = ("state_then_action", "observed_pair")


@struct.dataclass
class DynaHParams:
    """Sweepable hyperparameters (arrays, so they can be vmapped like seeds).

    alpha: step size; gamma: discount; epsilon: exploration rate; kappa: Dyna-Q+ bonus scale.
    """

    alpha: jnp.ndarray
    gamma: jnp.ndarray
    epsilon: jnp.ndarray
    kappa: jnp.ndarray

    def validate(self) -> "DynaHParams":
        """Check every value (all seeds of a sweep); raise ConfigError naming the field.

        Traced leaves (under a user's own `jit`/`vmap`) cannot be read and are not checked.
        """
        check_range("alpha", self.alpha, 0.0, 1.0, low_open=True)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("epsilon", self.epsilon, 0.0, 1.0)
        check_range("kappa", self.kappa, 0.0, np.inf)
        return self


@dataclasses.dataclass(frozen=True)
class DynaConfig:
    """Tabular Dyna-Q (Sutton & Barto 2nd ed., section 8.2) and Dyna-Q+ (section 8.3).

    Attributes:
      variant: "dyna-q", or "dyna-q+" (planning reward + kappa * sqrt(tau), tau = real steps since
        the pair was last tried).
      total_steps: real env steps in a run.
      planning_steps: n, planning updates after each real step (0 = plain Q-learning).
      alpha, gamma, epsilon, kappa: defaults for the sweepable `DynaHParams`.
      planning_draw: "state_then_action" (the book: a visited state, then an action taken in it)
        or "observed_pair" (uniform over observed (state, action) pairs).
      untried_actions: Dyna-Q+ only. True (the book's footnote): every action of a visited state
        may be drawn in planning; untried ones are modelled as staying put with reward 0. False:
        observed pairs only, so the bonus only inflates familiar actions.
      q_init: initial Q-value.
      eval_episodes, eval_max_steps: evaluation (when the driver asks for it): this many greedy
        episodes on fresh envs, each cut after `eval_max_steps` steps.
    """

    variant: Variant = "dyna-q"
    total_steps: int = 20_000
    planning_steps: int = 50
    alpha: float = 0.1
    gamma: float = 0.95
    epsilon: float = 0.1
    kappa: float = 1e-3
    planning_draw: PlanningDraw = "state_then_action"
    untried_actions: bool = True
    q_init: float = 0.0
    eval_episodes: int = 8
    eval_max_steps: int = 200

    @classmethod
    def tiny(cls, **overrides) -> "DynaConfig":
        """A run of a fraction of a second on the CPU (300 steps, 5 planning updates each)."""
        return cls(**{"total_steps": 300, "planning_steps": 5, **overrides})

    @property
    def plus(self) -> bool:
        return self.variant == "dyna-q+"

    @property
    def plans_untried(self) -> bool:
        return self.plus and self.untried_actions

    def hparams(self) -> DynaHParams:
        return DynaHParams(
            alpha=jnp.float32(self.alpha),
            gamma=jnp.float32(self.gamma),
            epsilon=jnp.float32(self.epsilon),
            kappa=jnp.float32(self.kappa),
        )

    def validate(self) -> "DynaConfig":
        """Raise ConfigError (naming the field and what to change) on any invalid value."""
        if self.variant not in VARIANTS:
            raise ConfigError("variant", f"must be one of {VARIANTS}, got {self.variant!r}")
        if self.planning_draw not in PLANNING_DRAWS:
            raise ConfigError(
                "planning_draw", f"must be one of {PLANNING_DRAWS}, got {self.planning_draw!r}")
        check_int("planning_steps", self.planning_steps, minimum=0)
        check_int("total_steps", self.total_steps, minimum=1)
        check_int("eval_episodes", self.eval_episodes, minimum=1)
        check_int("eval_max_steps", self.eval_max_steps, minimum=1)
        if not np.isfinite(self.q_init):
            raise ConfigError("q_init", f"must be finite, got {self.q_init}")
        self.hparams().validate()
        return self

