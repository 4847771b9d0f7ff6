"""The registry of trainable algorithms, shared by the CLI and the driver's tests.

Each module in `mbrl_jax.cli.algorithms` exposes `SPECS`, a tuple of `AlgorithmSpec`:
how to add its options to an argparse parser and how to build its `Trainer` from parsed options.
Adding an algorithm to the CLI (and to every test parametrised over the registry) is one line in
`_SPEC_MODULES`.
"""

import argparse
import importlib
from collections.abc import Callable
from typing import Any, NamedTuple

from mbrl_jax.driver.loop import Trainer


class AlgorithmSpec(NamedTuple):
    """How the CLI trains one algorithm.

    name: the CLI name, e.g. "dyna-q".
    help: one line for `mbrl-jax train --help`.
    add_arguments: adds the algorithm's own options to its `train NAME` parser (the shared ones,
      --env, --seeds, --steps, --seed, --out, ..., are added by the CLI).
    build: `(args, env, env_params) -> (trainer, config)`; validates (raising `ConfigError` or an
      env error) before anything is traced. `args.steps` is the number of env steps per seed.
    default_env: env id used when --env is not given.
    default_steps: env steps per seed used when --steps is not given.
    label: `args -> str`, the legend label of the run's learning curve.
    check_env: `(env, env_params) -> None`, the algorithm's own check that it can train on an env
      (the same function its `make_trainer` runs), raising an env error (e.g. `NotTabularError`)
      or `ConfigError` otherwise; `mbrl-jax envs` lists, for each env id, the algorithms whose
      check passes. Required: a listing without it would claim every env.
    test_args: CLI arguments after `train NAME` for a run of a few seconds on the CPU (tiny
      networks, few steps); tests parametrised over the registry use them.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    build: Callable[[argparse.Namespace, Any, Any], tuple[Trainer, Any]]
    default_env: str
    default_steps: int
    label: Callable[[argparse.Namespace], str]
    check_env: Callable[[Any, Any], None]
    test_args: tuple[str, ...] = ()


_SPEC_MODULES = (
    "mbrl_jax.cli.algorithms.dyna",
    "mbrl_jax.cli.algorithms.sac",
    "mbrl_jax.cli.algorithms.mbpo",
    "mbrl_jax.cli.algorithms.dreamer",
    "mbrl_jax.cli.algorithms.muzero",
)


def registry() -> dict[str, AlgorithmSpec]:
    """All algorithms by CLI name, in registration order."""
    specs: dict[str, AlgorithmSpec] = {}
    for module in _SPEC_MODULES:
        for spec in importlib.import_module(module).SPECS:
            specs[spec.name] = spec
    return specs


__all__ = ["AlgorithmSpec", "registry"]
