"""mbrl-jax: model-based reinforcement learning as pure JAX functions."""

__version__ = "0.1.0"
