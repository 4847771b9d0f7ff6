"""Small flax.linen networks and the `Network(init, apply)` wrapper every algorithm shares.

A `Network` is a pair of pure functions, so an ensemble is the same network with stacked params:

    net = make_mlp(hidden_sizes=(64, 64), output_size=3)
    params = net.init(key, x)                                   # x: [..., in]
    y = net.apply(params, x)                                    # [..., 3]
    stacked = jax.vmap(net.init, in_axes=(0, None))(keys, x)    # leaves [E, ...]
    ys = jax.vmap(net.apply, in_axes=(0, None))(stacked, x)     # [E, ..., 3]
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from mbrl_jax.core.errors import MbrlJaxError

_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "swish": nn.swish,
    "silu": nn.silu,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "tanh": jnp.tanh,
    "sigmoid": nn.sigmoid,
    "leaky_relu": nn.leaky_relu,
    "identity": lambda x: x,
}


class UnknownActivationError(MbrlJaxError, ValueError):
    """Raised for an activation name that `get_activation` does not know."""


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """Activation function by name (one of `ACTIVATION_NAMES`)."""
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise UnknownActivationError(
            f"unknown activation {name!r}; choose one of {sorted(_ACTIVATIONS)}"
        ) from None


ACTIVATION_NAMES = tuple(sorted(_ACTIVATIONS))


class Network(NamedTuple):
    """A network as two pure functions.

    init: `(key, *example_inputs) -> params`
    apply: `(params, *inputs) -> outputs`
    """

    init: Callable[..., Any]
    apply: Callable[..., Any]


class MLP(nn.Module):
    """Multi-layer perceptron on the last axis: `[..., in] -> [..., output_size]`.

    Attributes:
      hidden_sizes: widths of the hidden layers, e.g. (200, 200, 200, 200).
      output_size: width of the output layer.
      activation: activation name for hidden layers (see `ACTIVATION_NAMES`).
      zero_init_output: initialise the output layer's kernel and bias to zero, so the network
        outputs exactly 0 at initialisation (residual models then predict "no change").
      activate_final: apply the activation to the output as well.
      dtype: computation dtype (params stay float32).
    """

    hidden_sizes: Sequence[int]
    output_size: int
    activation: str = "relu"
    zero_init_output: bool = False
    activate_final: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = get_activation(self.activation)
        for i, width in enumerate(self.hidden_sizes):
            x = act(nn.Dense(width, dtype=self.dtype, name=f"hidden_{i}")(x))
        out_init = nn.initializers.zeros if self.zero_init_output else nn.linear.default_kernel_init
        x = nn.Dense(self.output_size, kernel_init=out_init, dtype=self.dtype, name="output")(x)
        return act(x) if self.activate_final else x


def make_network(module: nn.Module) -> Network:
    """Wrap a flax.linen module into `Network(init, apply)`.

    `init(key, *inputs)` returns the module's variables (`{"params": ...}`);
    `apply(params, *inputs)` calls the module.
    """

    def init(key: jax.Array, *inputs: Any) -> Any:
        return module.init(key, *inputs)

    def apply(params: Any, *inputs: Any) -> Any:
        return module.apply(params, *inputs)

    return Network(init=init, apply=apply)


def make_mlp(
    hidden_sizes: Sequence[int],
    output_size: int,
    activation: str = "relu",
    zero_init_output: bool = False,
    activate_final: bool = False,
) -> Network:
    """`Network` of an `MLP`.

    `init(key, x [..., in]) -> params`; `apply(params, x [..., in]) -> [..., output_size]`.
    """
    get_activation(activation)  # fail early with a named error, before any tracing
    return make_network(
        MLP(
            hidden_sizes=tuple(hidden_sizes),
            output_size=output_size,
            activation=activation,
            zero_init_output=zero_init_output,
            activate_final=activate_final,
        )
    )


__all__ = [
    "ACTIVATION_NAMES",
    "MLP",
    "Network",
    "UnknownActivationError",
    "get_activation",
    "make_mlp",
    "make_network",
]
