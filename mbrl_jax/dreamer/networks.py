"""Flax modules of DreamerV3: the world model (encoder, RSSM cells, decoder, reward and continue
heads), the actor and the critic. Hidden layers are Dense -> LayerNorm -> SiLU as in DreamerV3;
reward and value output layers start at zero (an untrained head predicts exactly 0).

Observations are either vectors `[O]` (MLP encoder on symlog inputs) or MinAtar-style grids
`[H, W, C]` (a small conv encoder); the decoder always predicts the flattened observation, in
symlog space for vectors.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from mbrl_jax.dreamer.config import DreamerConfig
from mbrl_jax.dreamer.math import symlog


class NormMLP(nn.Module):
    """`[..., in] -> [..., out]`: `layers` x (Dense, LayerNorm, SiLU), then a Dense output."""

    hidden: int
    layers: int
    out: int
    zero_init: bool = False

    @nn.compact
    def __call__(self, x):
        for _ in range(self.layers):
            x = nn.silu(nn.LayerNorm()(nn.Dense(self.hidden, use_bias=False)(x)))
        init = nn.initializers.zeros if self.zero_init else nn.linear.default_kernel_init
        return nn.Dense(self.out, kernel_init=init)(x)


class DenseNorm(nn.Module):
    """Dense -> LayerNorm -> SiLU."""

    width: int

    @nn.compact
    def __call__(self, x):
        return nn.silu(nn.LayerNorm()(nn.Dense(self.width, use_bias=False)(x)))


class ConvEncoder(nn.Module):
    """`[H, W, C] -> [hidden]`: two 3x3 convs (stride 1 then 2) with LayerNorm and SiLU."""

    hidden: int

    @nn.compact
    def __call__(self, x):
        for features, stride in ((16, 1), (32, 2)):
            x = nn.Conv(features, (3, 3), strides=stride, use_bias=False)(x)
            x = nn.silu(nn.LayerNorm()(x))
        return DenseNorm(self.hidden)(x.reshape((*x.shape[:-3], -1)))


class WorldModel(nn.Module):
    """Per-step pieces of the RSSM world model (unbatched or with any leading axes).

    feat = concat(h [D], z [G*C]); the state is (h, z) with z a flat one-hot sample.
    """

    config: DreamerConfig
    obs_shape: Sequence[int]

    def setup(self):
        c = self.config
        image = len(self.obs_shape) == 3
        self.encoder = (ConvEncoder(c.hidden_size) if image
                        else NormMLP(c.hidden_size, max(c.num_layers - 1, 0), c.hidden_size))
        self.img_in = DenseNorm(c.hidden_size)
        self.gru = nn.GRUCell(features=c.deter_size)
        self.prior_net = NormMLP(c.hidden_size, 1, c.stoch_size)
        self.post_net = NormMLP(c.hidden_size, 1, c.stoch_size)
        obs_size = 1
        for d in self.obs_shape:
            obs_size *= d
        self.decoder = NormMLP(c.hidden_size, c.num_layers, obs_size)
        self.reward_head = NormMLP(c.hidden_size, c.num_layers, c.num_bins, zero_init=True)
        self.cont_head = NormMLP(c.hidden_size, c.num_layers, 1)

    def encode(self, obs):
        """`obs [..., *obs_shape] -> embed [..., hidden]`; vector inputs go through symlog."""
        if len(self.obs_shape) == 3:
            return self.encoder(obs.astype(jnp.float32))
        return self.encoder(symlog(obs.astype(jnp.float32)))

    def deter_step(self, deter, stoch, action):
        """`h_t = GRU(h_{t-1}, [z_{t-1}, a_{t-1}])` -> `[..., D]`."""
        x = self.img_in(jnp.concatenate([stoch, action], -1))
        deter, _ = self.gru(deter, x)
        return deter

    def prior_logits(self, deter):
        """`[..., D] -> [..., G, C]` logits of p(z_t | h_t)."""
        c = self.config
        return self.prior_net(deter).reshape((*deter.shape[:-1], c.stoch_groups, c.stoch_classes))

    def post_logits(self, deter, embed):
        """`[..., D], [..., E] -> [..., G, C]` logits of q(z_t | h_t, o_t)."""
        c = self.config
        logits = self.post_net(jnp.concatenate([deter, embed], -1))
        return logits.reshape((*deter.shape[:-1], c.stoch_groups, c.stoch_classes))

    def decode(self, feat):
        """`[..., F] -> [..., prod(obs_shape)]` (symlog space for vector observations)."""
        return self.decoder(feat)

    def reward_logits(self, feat):
        return self.reward_head(feat)

    def cont_logit(self, feat):
        return self.cont_head(feat)[..., 0]

    def __call__(self, obs, action):
        """Touch every submodule once (for `init`): `obs [*obs_shape]`, `action [A]`."""
        c = self.config
        embed = self.encode(obs)
        deter = jnp.zeros((c.deter_size,), jnp.float32)
        stoch = jnp.zeros((c.stoch_size,), jnp.float32)
        deter = self.deter_step(deter, stoch, action)
        logits = self.post_logits(deter, embed) + self.prior_logits(deter)
        feat = jnp.concatenate([deter, logits.reshape(-1)], -1)
        return self.decode(feat), self.reward_logits(feat), self.cont_logit(feat)


class Actor(nn.Module):
    """`feat [..., F]` -> discrete logits `[..., A]`, or continuous `(mean, std)` each `[..., A]`
    with mean = tanh(.) and std in [min_std, max_std] (DreamerV3's bounded normal)."""

    config: DreamerConfig
    action_dim: int
    discrete: bool
    min_std: float = 0.1
    max_std: float = 1.0

    @nn.compact
    def __call__(self, feat):
        c = self.config
        if self.discrete:
            return NormMLP(c.hidden_size, c.num_layers, self.action_dim)(feat)
        out = NormMLP(c.hidden_size, c.num_layers, 2 * self.action_dim)(feat)
        mean, std = jnp.split(out, 2, -1)
        std = (self.max_std - self.min_std) * jax.nn.sigmoid(std + 2.0) + self.min_std
        return jnp.tanh(mean), std


class Critic(nn.Module):
    """`feat [..., F] -> [..., K]` two-hot logits of the value; output layer zero-initialised."""

    config: DreamerConfig

    @nn.compact
    def __call__(self, feat):
        c = self.config
        return NormMLP(c.hidden_size, c.num_layers, c.num_bins, zero_init=True)(feat)
