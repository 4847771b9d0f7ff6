"""The registry of trainable algorithms, shared by the CLI and the driver's tests.

Each module in `mbrl_jax.cli.algorithms` exposes `SPECS`, a tuple of `AlgorithmSpec`:
how to add its options to an argparse parser and how to build its `Trainer` from parsed options.
Adding an algorithm to the CLI (and to every test parametrised over the registry) is one line in
`_SPEC_MODULES`.
"""

import argparse
import dataclasses
import functools
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
    label: `config -> str`, the legend label of the run's learning curve.
    check_env: `(env, env_params) -> None`, the algorithm's own check that it can train on an env
      (the same function its `make_trainer` runs), raising an env error (e.g. `NotTabularError`)
      or `ConfigError` otherwise; `mbrl-jax envs` lists, for each env id, the algorithms whose
      check passes. Required: a listing without it would claim every env.
    test_args: CLI arguments after `train NAME` for a run of a few seconds on the CPU (tiny
      networks, few steps); tests parametrised over the registry use them.
    config: the config the flags' defaults come from (`Config()` or a preset); `mbrl-jax train
      NAME` with no options trains exactly this config.
    make_config: `args -> config`, the config the parsed options describe (not yet validated).
    make_trainer: `(config, env, env_params) -> Trainer`, for callers that build their own
      config rather than parse flags (e.g. `benchmarks/table.py`, which runs each algorithm's
      documented presets); validates as `build` does.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    build: Callable[[argparse.Namespace, Any, Any], tuple[Trainer, Any]]
    default_env: str
    default_steps: int
    label: Callable[[Any], str]
    check_env: Callable[[Any, Any], None]
    test_args: tuple[str, ...] = ()
    config: Any = None
    make_config: Callable[[argparse.Namespace], Any] | None = None
    make_trainer: Callable[[Any, Any, Any], Trainer] | None = None


class Nested(NamedTuple):
    """A config field holding another config: its flags are `--NAME.FIELD`.

    base: the instance whose values are the flags' defaults; skip: its fields with no flag;
    make: `**changed -> instance` for the fields the user set (default: `replace(base, ...)`);
    when none is set the outer config keeps its own value (e.g. None for "the paper's recipe").
    """

    base: Any
    skip: tuple[str, ...] = ()
    make: Callable[..., Any] | None = None


def config_spec(name: str, help: str, *, config, make_trainer, check_env, default_env: str,
                label: Callable[[Any], str], tiny, test_env: str,
                skip: tuple[str, ...] = (), nested: dict[str, Nested] | None = None
                ) -> AlgorithmSpec:
    """An `AlgorithmSpec` whose flags are generated from the fields of `config` (see
    `config_flags`): names, types, defaults and help in one place, the config class.

    `total_steps` is the shared --steps; `skip` names other fields with no flag (fixed by the
    algorithm's name, e.g. Dyna's `variant`). `tiny` is a config for a run of a few seconds
    (`Config.tiny()`); its flags, on `test_env`, are the spec's `test_args`.
    """
    from mbrl_jax.cli import config_flags

    skip = ("total_steps", *skip)
    nested = nested or {}
    pairs = {k: (n.base, n.skip) for k, n in nested.items()}

    def add_arguments(parser):
        config_flags.add_flags(parser, config, skip=skip, nested=pairs)

    def make_config(args):
        changed = config_flags.overrides(config, args, skip=(*skip, *nested))
        for field, inner in nested.items():
            inner_changed = config_flags.overrides(inner.base, args, skip=inner.skip,
                                                   prefix=f"{field}.")
            if inner_changed:
                make = inner.make or functools.partial(dataclasses.replace, inner.base)
                changed[field] = make(**inner_changed)
        return dataclasses.replace(config, total_steps=args.steps, **changed)

    def build(args, env, env_params):
        config_ = make_config(args)  # make_trainer validates it before tracing
        return make_trainer(config_, env, env_params), config_

    test_args = ("--env", test_env, "--steps", str(tiny.total_steps),
                 *config_flags.to_argv(tiny, config, skip=skip, nested=pairs))
    return AlgorithmSpec(name, help, add_arguments, build, default_env=default_env,
                         default_steps=config.total_steps, label=label, check_env=check_env,
                         test_args=test_args, config=config, make_config=make_config,
                         make_trainer=make_trainer)


_SPEC_MODULES = (
    "mbrl_jax.cli.algorithms.dyna",
    "mbrl_jax.cli.algorithms.sac",
    "mbrl_jax.cli.algorithms.mbpo",
    "mbrl_jax.cli.algorithms.dreamer",
    "mbrl_jax.cli.algorithms.muzero",
    "mbrl_jax.cli.algorithms.pets",
)


def registry() -> dict[str, AlgorithmSpec]:
    """All algorithms by CLI name, in registration order."""
    specs: dict[str, AlgorithmSpec] = {}
    for module in _SPEC_MODULES:
        for spec in importlib.import_module(module).SPECS:
            specs[spec.name] = spec
    return specs


__all__ = ["AlgorithmSpec", "Nested", "config_spec", "registry"]
