"""Neural dynamics models: a residual MLP per member, ensembles as stacked params under `jax.vmap`.

from mbrl_jax.models import EnsembleConfig, Transition, make_ensemble
model = make_ensemble(EnsembleConfig(obs_dim=4, action_dim=2, discrete_actions=True))
state = model.init(key)
state, info = jax.jit(model.fit)(state, data, key)
pred = model.predict(state, obs, action, elites_only=True)
"""

from mbrl_jax.core.types import Transition
from mbrl_jax.models.config import PROPAGATIONS, EnsembleConfig, ModelConfigError
from mbrl_jax.models.ensemble import (
    EnsembleModel,
    Prediction,
    Rollout,
    TerminationFn,
    make_ensemble,
    make_train_batch,
)
from mbrl_jax.models.networks import (
    MemberOutput,
    Normalizer,
    compute_normalizer,
    denormalize_targets,
    encode_inputs,
    encode_targets,
    normalize_inputs,
    normalize_targets,
)
from mbrl_jax.models.train import (
    EnsembleState,
    FitInfo,
    TrainBatch,
    bootstrap_indices,
    gaussian_nll,
)

__all__ = [
    "PROPAGATIONS",
    "EnsembleConfig",
    "EnsembleModel",
    "EnsembleState",
    "FitInfo",
    "MemberOutput",
    "ModelConfigError",
    "Normalizer",
    "Prediction",
    "Rollout",
    "TerminationFn",
    "TrainBatch",
    "Transition",
    "bootstrap_indices",
    "compute_normalizer",
    "denormalize_targets",
    "encode_inputs",
    "encode_targets",
    "gaussian_nll",
    "make_ensemble",
    "make_train_batch",
    "normalize_inputs",
    "normalize_targets",
]
