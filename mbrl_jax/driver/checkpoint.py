"""Checkpoints of a whole run (every seed's `RunState` plus host-side records) with orbax.

    ckpt = Checkpointer(run_dir / "checkpoints", keep=3)
    ckpt.save(step, state, host={"metrics": ...}, meta={"algorithm": ..., "config": ...})
    state, host, meta = ckpt.restore(abstract_state, expect={"algorithm": ..., "config": ...})

A checkpoint is one orbax step folder holding the state (parameters, optimiser states, buffers, env
states, PRNG keys, counters, for all seeds), the host records and `meta.json` (config, library
versions, format version, step). orbax writes into a temporary folder and renames it when complete,
so a process killed mid-save leaves the previous checkpoint intact; only the last `keep` are kept.
Saving is synchronous: the run's state is donated to the next chunk right after `save` returns.
"""

import json
from importlib import metadata
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from mbrl_jax.core.errors import MbrlJaxError
from mbrl_jax.driver.sharding import is_key

FORMAT_VERSION = 1
_VERSIONED = ("mbrl-jax", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")


class CheckpointMismatchError(MbrlJaxError, ValueError):
    """A checkpoint that does not belong to this run (another algorithm, config, format...)."""


def library_versions() -> dict[str, str]:
    versions = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _keys_to_data(tree):
    """Typed PRNG keys -> their uint32 data (orbax stores plain arrays)."""
    return jax.tree.map(lambda x: jax.random.key_data(x) if is_key(x) else x, tree)


def _data_to_keys(tree, like):
    return jax.tree.map(
        lambda x, ref: jax.random.wrap_key_data(x, impl=ref.dtype._impl)
        if is_key(ref) else x, tree, like)


def _abstract_data(abstract):
    """The abstract tree orbax restores into: keys as uint32 data, arrays as host numpy."""
    def leaf(x):
        if is_key(x):
            x = jax.eval_shape(jax.random.key_data, x)
        return np.zeros(x.shape, x.dtype)
    return jax.tree.map(leaf, abstract)


def _shapes_by_path(tree) -> dict[tuple[str, ...], tuple[int, ...]]:
    """Leaf shapes keyed by field/key names (stored dicts and dataclasses compare alike)."""
    def name(entry):
        for attr in ("key", "name", "idx"):
            if hasattr(entry, attr):
                return str(getattr(entry, attr))
        return str(entry)
    return {tuple(name(e) for e in path): tuple(leaf.shape)
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def describe_mismatch(saved: dict, expect: dict) -> list[str]:
    """One line per key of `expect` whose value differs in the checkpoint's `saved` meta."""
    lines = []
    expect = json.loads(json.dumps(expect))  # compare as stored: tuples become lists
    if saved.get("format_version") != FORMAT_VERSION:
        lines.append(f"checkpoint format version {saved.get('format_version')}, this mbrl-jax "
                     f"reads version {FORMAT_VERSION}")
    for key, value in expect.items():
        old = saved.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            lines += [f"{key}.{k}: checkpoint has {old.get(k)!r}, this run has {value.get(k)!r}"
                      for k in sorted(set(value) | set(old)) if old.get(k) != value.get(k)]
        elif old != value:
            lines.append(f"{key}: checkpoint has {old!r}, this run has {value!r}")
    return lines


class Checkpointer:
    """Numbered checkpoints (by env step) of one run in `directory`."""

    def __init__(self, directory: Path, keep: int = 3):
        self.directory = Path(directory).absolute()
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                                 enable_async_checkpointing=False),
            item_handlers={"state": ocp.StandardCheckpointHandler(),
                           "host": ocp.StandardCheckpointHandler(),
                           "meta": ocp.JsonCheckpointHandler()})

    def steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state, host: dict, meta: dict) -> Path:
        """Save `state` (device pytree of all seeds), `host` (numpy pytree) and `meta` (JSON)."""
        meta = {**meta, "format_version": FORMAT_VERSION, "step": int(step),
                "versions": library_versions()}
        json.dumps(meta)  # fail before writing anything if meta is not JSON
        self.manager.save(int(step), args=ocp.args.Composite(
            state=ocp.args.StandardSave(_keys_to_data(state)),
            host=ocp.args.StandardSave({"_": np.zeros(()), **host}),
            meta=ocp.args.JsonSave(meta)))
        self.manager.wait_until_finished()
        return self.directory / str(step)

    def read_meta(self, step: int | None = None) -> dict:
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        return self.manager.restore(step, args=ocp.args.Composite(
            meta=ocp.args.JsonRestore())).meta

    def restore(self, abstract_state, expect: dict, step: int | None = None):
        """Load a checkpoint (latest by default) after checking its meta against `expect`.

        abstract_state: the state's structure, shapes and dtypes (`jax.eval_shape` of the init).
        Returns `(state, host, meta)`, numpy.
        Raises CheckpointMismatchError listing every difference (format version, algorithm,
        config fields, ...) and FileNotFoundError when there is no checkpoint.
        """
        step = self.latest_step() if step is None else step
        meta = self.read_meta(step)
        problems = describe_mismatch(meta, expect)
        if problems:
            raise CheckpointMismatchError(
                f"checkpoint {self.directory / str(step)} is from another run: "
                + "; ".join(problems))
        target_state = _abstract_data(abstract_state)
        stored = _shapes_by_path(self.manager.item_metadata(step).state)
        wanted = _shapes_by_path(target_state)
        differ = [f"{'.'.join(path)}: checkpoint {stored.get(path)}, this run {shape}"
                  for path, shape in wanted.items() if stored.get(path) != shape]
        if differ or set(stored) != set(wanted):
            raise CheckpointMismatchError(
                f"checkpoint {self.directory / str(step)} holds state of other shapes (a config "
                f"value such as a buffer size that follows the run length?): "
                + "; ".join(differ[:5] or ["the state's structure differs"]))
        try:
            loaded = self.manager.restore(step, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(target_state),
                host=ocp.args.StandardRestore()))
        except (ValueError, KeyError) as err:
            raise CheckpointMismatchError(
                f"checkpoint {self.directory / str(step)} does not match this run's state "
                f"(shapes or structure differ): {err}") from None
        state = _data_to_keys(jax.tree.map(np.asarray, loaded.state), abstract_state)
        host = jax.tree.map(np.asarray, dict(loaded.host))
        host.pop("_")
        return state, host, meta

    def close(self) -> None:
        self.manager.close()


__all__ = ["FORMAT_VERSION", "CheckpointMismatchError", "Checkpointer", "describe_mismatch",
           "library_versions"]
