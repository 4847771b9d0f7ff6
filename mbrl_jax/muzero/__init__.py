"""MuZero (Schrittwieser et al. 2020) and Gumbel MuZero (Danihelka et al. 2022): learned h/g/f
networks, a batched tree search (`mbrl_jax.muzero.mcts`) and self-play training.

Departures from the paper's pseudocode: the 0.5 gradient scale follows every dynamics step before
the prediction reads it, so unroll step k's value and policy losses reach the representation
scaled by 0.5^k (the pseudocode: 0.5^(k-1); the reward losses match it);
with `value_bootstrap="network"` a truncated episode still bootstraps from the final
observation's value predicted at self-play time; windows are sampled uniformly (no prioritised
replay) and there is no L2 weight decay. The search equals mctx's with a deterministic
`recurrent_fn`; its per-simulation keys are split differently.
"""

from mbrl_jax.muzero.agent import MuZeroAgent, MuZeroState, make_agent
from mbrl_jax.muzero.config import MuZeroConfig, MuZeroHParams, SupportWarning
from mbrl_jax.muzero.losses import Step, Targets, make_targets, unroll_loss
from mbrl_jax.muzero.mcts import (
    PolicyOutput,
    RecurrentFnOutput,
    RootFnOutput,
    Tree,
    gumbel_muzero_policy,
    muzero_policy,
)
from mbrl_jax.muzero.networks import (
    inverse_value_transform,
    logits_to_scalar,
    make_networks,
    scalar_to_probs,
    value_transform,
)
from mbrl_jax.muzero.train import make_train, make_trainer

__all__ = [
    "MuZeroAgent",
    "MuZeroConfig",
    "MuZeroHParams",
    "MuZeroState",
    "PolicyOutput",
    "RecurrentFnOutput",
    "RootFnOutput",
    "Step",
    "SupportWarning",
    "Targets",
    "Tree",
    "gumbel_muzero_policy",
    "inverse_value_transform",
    "logits_to_scalar",
    "make_agent",
    "make_networks",
    "make_targets",
    "make_train",
    "make_trainer",
    "muzero_policy",
    "scalar_to_probs",
    "unroll_loss",
    "value_transform",
]
