"""DreamerV3 (Hafner et al., "Mastering diverse control tasks through world models", arXiv 2023;
Nature 2025): an RSSM world model learned from replayed sequences, and an actor-critic learned
from trajectories imagined by it.

We follow the current code generation (the 2024+ code released with the Nature paper) for the
loss recipe: KL scales dyn 1.0 / rep 0.1 with 1 nat free bits, 1% unimix on every categorical,
two-hot regression over 255 symexp-spaced bins for reward and value with zero-initialised output
layers, symlog inputs and reconstruction targets for vectors, gamma = 1 - 1/333, lambda = 0.95,
horizon 15 from every posterior state, returns divided by max(1, EMA of P95 - P5) at rate 0.01,
a slow EMA critic (rate 0.02) as a regulariser of scale 1, actor entropy 3e-4, REINFORCE for
discrete actions, loss weights the cumulative product of gamma x continue.

Where ours differs (each a deliberate simplification for small CPU budgets, or untested here):
- Network: plain GRU cell (flax `GRUCell`) with LayerNorm-SiLU dense layers, not DreamerV3's
  block-diagonal normalised GRU; no RMSNorm; default sizes far smaller (GRU 256, 16 x 16 latents,
  MLP 2 x 256) than any DreamerV3 preset.
- Initial state: zeros (h and z), not a learned initial state; the first step of every replayed
  window is treated as an episode start (no stored replay context).
- Optimiser: Adam with global-norm clipping (1000 model / 100 actor and critic), the 2023
  paper's learning rates (1e-4 / 3e-5 / 3e-5) and epsilons (1e-8 / 1e-5 / 1e-5), not LaProp with
  adaptive gradient clipping.
- No replayed-value loss (the current code also trains the critic on replayed trajectories), no
  percentile-offset return normalisation beyond the scale, no advantage normalisation.
- Continue in imagination: the predicted probability, not the Bernoulli mode.
- Continuous actions: a tanh-mean normal with std in [0.1, 1] (DreamerV3's bounded normal); the
  replay stores the raw sample, as DreamerV3 does, and only the env receives it clipped to
  [-1, 1]; by default the actor is trained by backpropagation through the dynamics
  (`actor_grad_continuous="dynamics"`, the 2023 code's choice for continuous control) rather
  than REINFORCE.
- Backprop actor: the objective is -G_t / S, without DreamerV3's -v(s_t) baseline (s_t depends
  on the earlier imagined actions, so the baseline changes the gradient too); the predicted
  continue probability is not stop-gradiented, so it passes gradient into the actor through the
  weights and discounts; the actor's output layer is not scaled down at initialisation.
- MinAtar grids: a two-layer conv encoder and an MLP decoder of the flattened grid (MSE), not
  DreamerV3's conv decoder.
- Replay: uniform over history (DreamerV3 mixes in recency), windows may cross episode
  boundaries and the model resets at `is_first`.
"""

from mbrl_jax.dreamer.agent import ActCarry, Dreamer, DreamerState, make_agent
from mbrl_jax.dreamer.config import DreamerConfig, DreamerHParams
from mbrl_jax.dreamer.losses import Sequences
from mbrl_jax.dreamer.rssm import RSSM, RSSMState, make_rssm
from mbrl_jax.dreamer.train import DreamerCarry, make_train, make_trainer

__all__ = [
    "RSSM",
    "ActCarry",
    "Dreamer",
    "DreamerCarry",
    "DreamerConfig",
    "DreamerHParams",
    "DreamerState",
    "RSSMState",
    "Sequences",
    "make_agent",
    "make_rssm",
    "make_train",
    "make_trainer",
]
