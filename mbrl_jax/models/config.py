"""Dynamics-ensemble configuration: static shapes and loop lengths, validated before tracing."""

import dataclasses
import math

from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.networks import ACTIVATION_NAMES

PROPAGATIONS = ("mean", "random_member", "fixed_member")
NLL_SCALINGS = ("gaussian", "mbpo")
MBPO_LAYER_WEIGHT_DECAY = (2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4)


class ModelConfigError(ConfigError):
    """Raised by `EnsembleConfig.validate` (and `make_ensemble`) for an unusable configuration;
    `.field` names the offending field."""


@dataclasses.dataclass(frozen=True)
class EnsembleConfig:
    """Dynamics ensemble (PETS / MBPO defaults).

    Each member maps (obs, action) to the change of observation and the reward:
    `next_obs = obs + delta`. Probabilistic members output a Gaussian mean and a log-variance softly
    bounded by learned per-member maximum/minimum.

    Attributes:
      obs_dim: length of the (flat) observation vector.
      action_dim: number of discrete actions (one-hot encoded) or continuous action dimensions.
      discrete_actions: True for integer actions in `[0, action_dim)`.
      ensemble_size: number of members E (MBPO: 7).
      num_elites: members kept as elites (MBPO: 5); `elites_only=True` predicts with them only.
      hidden_sizes: hidden layer widths (MBPO: 4 x 200).
      activation: hidden activation name (MBPO: swish).
      probabilistic: Gaussian members trained by NLL; False gives deterministic members (MSE).
      learn_termination: add a termination-logit head trained with binary cross-entropy.
      zero_init_output: zero the output layer so an untrained model predicts next = obs, reward 0
        (in normalised target units).
      init_max_logvar / init_min_logvar: initial soft bounds of the log-variance (0.5 / -10).
      logvar_bound_coef: weight of `sum(max_logvar) - sum(min_logvar)` in the loss (0.01).
      learning_rate, weight_decay: AdamW over the stacked parameters (elementwise, so equivalent to
        one optimiser per member).
      batch_size: minibatch rows per member per update.
      max_epochs: upper bound of training epochs in `fit` (a static loop length).
      holdout_ratio, max_holdout: validation split of the dataset (20%, at most 5000 rows); 0
        validates on the training rows.
      bootstrap: each member trains on its own bootstrap resample of the training rows (PETS,
        MBPO); False trains every member on all rows (members then differ only by init and order).
      patience: stop after this many epochs in which no member improves its validation MSE by more
        than `improvement_threshold` (relative) over its reference, MBPO's rule: the reference is
        the MSE at the member's last such improvement, so slow gains accumulate until they count.
        The params kept are each member's best, whatever the threshold.
      improvement_threshold: the relative gain in validation MSE that counts as an improvement
        for `patience` (MBPO: 0.01).
      termination_coef: weight of the termination BCE loss.
      shared_logvar_bounds: one learned pair of log-variance bounds `[D]` shared by all members
        (MBPO's bnn.py) instead of one pair per member; its penalty is counted once.
      layer_weight_decay: per-layer L2 penalty in the loss, `sum_l c_l * 0.5 * |W_l|^2` over the
        kernels from input to output (one value per layer, len(hidden_sizes) + 1), as MBPO's
        bnn.py; () for none. Independent of the optimiser's decoupled `weight_decay`.
      nll_scaling: "gaussian", the mean negative log-likelihood `0.5 * mean(err^2/var + logvar +
        log 2pi)`; or "mbpo", MBPO's `mean(err^2/var + logvar)` (twice the gradient of the data
        term relative to the bound and weight penalties).

    `EnsembleConfig.mbpo(obs_dim, action_dim)` gives MBPO's recipe (Janner et al. 2019, bnn.py).
    """

    obs_dim: int
    action_dim: int
    discrete_actions: bool = False
    ensemble_size: int = 7
    num_elites: int = 5
    hidden_sizes: tuple[int, ...] = (200, 200, 200, 200)
    activation: str = "swish"
    probabilistic: bool = True
    learn_termination: bool = False
    zero_init_output: bool = False
    init_max_logvar: float = 0.5
    init_min_logvar: float = -10.0
    logvar_bound_coef: float = 0.01
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    max_epochs: int = 100
    holdout_ratio: float = 0.2
    max_holdout: int = 5000
    bootstrap: bool = True
    patience: int = 5
    improvement_threshold: float = 0.01
    termination_coef: float = 1.0
    shared_logvar_bounds: bool = False
    layer_weight_decay: tuple[float, ...] = ()
    nll_scaling: str = "gaussian"

    @classmethod
    def mbpo(cls, obs_dim: int, action_dim: int, **overrides) -> "EnsembleConfig":
        """MBPO's model recipe: 7 members, 5 elites, 4 x 200 swish, one shared learned pair of
        log-variance bounds, per-layer L2 (2.5e-5 .. 1e-4) in the loss, MBPO's loss scaling,
        holdout 20% (at most 5000), stop once more than 5 epochs pass without a 1% gain
        (`patience=6` in this class's rule: stop when 6 epochs have passed without one).

        Differences kept on purpose: targets are standardised as well as inputs (MBPO standardises
        inputs only), so members' losses weigh obs dims alike whatever their units; each member
        keeps its best params (MBPO keeps the last that gained 1%).
        """
        fields = dict(
            obs_dim=obs_dim, action_dim=action_dim, ensemble_size=7, num_elites=5,
            hidden_sizes=(200, 200, 200, 200), activation="swish", shared_logvar_bounds=True,
            layer_weight_decay=MBPO_LAYER_WEIGHT_DECAY, nll_scaling="mbpo", patience=6,
            improvement_threshold=0.01, holdout_ratio=0.2, max_holdout=5000,
        )
        fields.update(overrides)
        layers = len(fields["hidden_sizes"])
        if "layer_weight_decay" not in overrides and layers != 4:
            # The paper sets one L2 per layer of its 4-hidden-layer net; other depths keep its
            # range, 2.5e-5 at the input layer rising linearly to 1e-4 at the output layer.
            fields["layer_weight_decay"] = tuple(2.5e-5 + 7.5e-5 * i / layers
                                                 for i in range(layers + 1))
        return cls(**fields)

    @property
    def target_dim(self) -> int:
        """Predicted targets per example: `obs_dim` deltas then 1 reward."""
        return self.obs_dim + 1

    @property
    def input_dim(self) -> int:
        """Network input width: observation then (one-hot) action."""
        return self.obs_dim + self.action_dim

    @property
    def output_dim(self) -> int:
        """Raw network output width: means, log-variances (if probabilistic), termination logit."""
        return self.target_dim * (2 if self.probabilistic else 1) + int(self.learn_termination)

    def holdout_size(self, num_rows: int) -> int:
        """Validation rows for a dataset of `num_rows` (static)."""
        return min(int(math.floor(num_rows * self.holdout_ratio)), self.max_holdout)

    def validate(self) -> "EnsembleConfig":
        """Raise `ModelConfigError` saying what to change; return self when usable."""

        def need(cond: bool, msg: str) -> None:
            if not cond:  # every message starts with the field's name
                field, rest = msg.split(" ", 1)
                raise ModelConfigError(field, rest)

        need(self.obs_dim >= 1, f"obs_dim must be >= 1, got {self.obs_dim}")
        need(self.action_dim >= 1, f"action_dim must be >= 1, got {self.action_dim}")
        need(self.ensemble_size >= 1, f"ensemble_size must be >= 1, got {self.ensemble_size}")
        need(
            1 <= self.num_elites <= self.ensemble_size,
            f"num_elites must be in [1, ensemble_size={self.ensemble_size}], got {self.num_elites}",
        )
        need(
            len(self.hidden_sizes) >= 1 and all(int(h) >= 1 for h in self.hidden_sizes),
            f"hidden_sizes must be a non-empty tuple of positive ints, got {self.hidden_sizes}",
        )
        need(isinstance(self.hidden_sizes, tuple), "hidden_sizes must be a tuple (hashable)")
        need(
            self.activation in ACTIVATION_NAMES,
            f"activation must be one of {ACTIVATION_NAMES}, got {self.activation!r}",
        )
        need(
            self.init_min_logvar < self.init_max_logvar,
            "init_min_logvar must be below init_max_logvar",
        )
        need(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        need(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        need(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        need(self.max_epochs >= 1, f"max_epochs must be >= 1, got {self.max_epochs}")
        need(
            0.0 <= self.holdout_ratio < 1.0,
            f"holdout_ratio must be in [0, 1), got {self.holdout_ratio}",
        )
        need(self.max_holdout >= 0, f"max_holdout must be >= 0, got {self.max_holdout}")
        need(self.patience >= 1, f"patience must be >= 1, got {self.patience}")
        need(self.logvar_bound_coef >= 0,
             f"logvar_bound_coef must be >= 0, got {self.logvar_bound_coef}")
        need(self.termination_coef >= 0,
             f"termination_coef must be >= 0, got {self.termination_coef}")
        need(
            self.improvement_threshold >= 0,
            f"improvement_threshold must be >= 0, got {self.improvement_threshold}",
        )
        need(
            self.nll_scaling in NLL_SCALINGS,
            f"nll_scaling must be one of {NLL_SCALINGS}, got {self.nll_scaling!r}",
        )
        need(isinstance(self.layer_weight_decay, tuple),
             "layer_weight_decay must be a tuple (hashable)")
        need(
            len(self.layer_weight_decay) in (0, len(self.hidden_sizes) + 1),
            f"layer_weight_decay must have one value per layer ({len(self.hidden_sizes) + 1}) or "
            f"none, got {len(self.layer_weight_decay)}",
        )
        need(all(c >= 0 for c in self.layer_weight_decay),
             f"layer_weight_decay must be >= 0, got {self.layer_weight_decay}")
        return self


def check_propagation(propagation: str) -> None:
    """Raise `ModelConfigError` unless `propagation` is one of `PROPAGATIONS`."""
    if propagation not in PROPAGATIONS:
        raise ModelConfigError(
            "propagation", f"must be one of {PROPAGATIONS}, got {propagation!r}")
