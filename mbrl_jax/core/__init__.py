"""JAX primitives shared by every algorithm: replay buffers (`buffer`, `aged_buffer`,
`sequence_buffer`), networks, distributions, greedy evaluation, validation and named errors.
Nothing here imports the driver, the statistics or the CLI (tests/test_layers.py checks)."""

from mbrl_jax.core.errors import ConfigError, InputError, MbrlJaxError

__all__ = ["ConfigError", "InputError", "MbrlJaxError"]
