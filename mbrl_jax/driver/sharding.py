"""Seeds over devices: the seed axis of a run split along a one-axis `jax.sharding.Mesh`.

    devices = jax.devices()                  # all devices of all processes (multi-host too)
    result = run_chunked(trainer, keys, devices=devices)

Every array of a run (keys, carry, metrics) has the seed axis first, so one
`NamedSharding(mesh, P("seeds"))` places them all; `jit(vmap(...))` is unchanged and XLA runs each
device's seeds where they live. Per-seed results do not depend on the placement. Multi-host: call
`jax.distributed.initialize()` in every process first (see the README), then pass `jax.devices()`;
arrays are built from the same host data in every process and gathered back with
`multihost_utils.process_allgather`.
"""

from collections.abc import Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

SEED_AXIS = "seeds"


class SeedSharding:
    """Where the seed axis lives. `devices=None` or one device: no mesh, plain arrays."""

    def __init__(self, devices: Sequence[jax.Device] | None, num_seeds: int):
        devices = list(devices) if devices else []
        self.num_devices = max(1, len(devices))
        if len(devices) > 1:
            if num_seeds % len(devices):
                lower = num_seeds - num_seeds % len(devices)
                raise ValueError(
                    f"{num_seeds} seeds do not split evenly over {len(devices)} devices; use a "
                    f"multiple of {len(devices)} (e.g. {lower or len(devices)} or "
                    f"{lower + len(devices)} seeds) or fewer devices")
            mesh = Mesh(np.array(devices), (SEED_AXIS,))
            self.seeds = NamedSharding(mesh, PartitionSpec(SEED_AXIS))
            self.replicated = NamedSharding(mesh, PartitionSpec())
        else:
            self.seeds = self.replicated = None

    def put(self, tree, batched: bool = True):
        """Place a host pytree: seed axis split over the devices (or replicated)."""
        if self.seeds is None:
            return jax.tree.map(jax.numpy.asarray, tree)
        sharding = self.seeds if batched else self.replicated

        def place(x):
            if is_key(x):
                return jax.random.wrap_key_data(place(jax.random.key_data(x)),
                                                impl=jax.random.key_impl(x))
            x = np.asarray(x)
            return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

        return jax.tree.map(place, tree)

    def jit_kwargs(self) -> dict:
        """`out_shardings` for a jitted function whose every output has the seed axis first."""
        return {} if self.seeds is None else {"out_shardings": self.seeds}


def is_key(x) -> bool:
    """True for a typed PRNG key array (`jax.random.key`)."""
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def to_host(tree):
    """Fetch a pytree to numpy; in a multi-process run, gather the seeds of every process."""
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree.map(np.asarray, tree)


def resolve_devices(spec: str | int | None) -> list[jax.Device] | None:
    """`"all"` -> every device (of every process); an int n -> the first n; None -> default."""
    if spec is None:
        return None
    devices = jax.devices()
    if spec == "all":
        return devices
    count = int(spec)
    if not 1 <= count <= len(devices):
        raise ValueError(f"--devices {count}: this machine has {len(devices)} devices "
                         f"({devices[0].platform})")
    return devices[:count]


__all__ = ["SeedSharding", "is_key", "resolve_devices", "to_host"]
