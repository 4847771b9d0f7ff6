"""How much memory a run needs, from shapes alone (`jax.eval_shape`, nothing is compiled).

A run holds on each device its seeds' state (the carry) and one chunk of per-step metrics; the
host keeps per-step metrics of the whole run only when they fit (otherwise it keeps per-chunk
summaries and evaluations, which grow with chunks, not steps).
"""

import os
from typing import NamedTuple

import jax
import numpy as np

from mbrl_jax.driver.loop import Trainer, init_run_state


class MemoryEstimate(NamedTuple):
    """Bytes. state_per_seed: the driver's carry; step_metrics_per_seed: one env step's metrics;
    num_seeds, chunk_steps, total_steps: what the totals multiply."""

    state_per_seed: int
    step_metrics_per_seed: int
    num_seeds: int
    chunk_steps: int
    total_steps: int

    @property
    def chunk_metrics_per_seed(self) -> int:
        return self.step_metrics_per_seed * self.chunk_steps

    @property
    def run_metrics_per_seed(self) -> int:
        return self.step_metrics_per_seed * self.total_steps

    def device_bytes(self, num_devices: int = 1) -> int:
        """State plus one chunk's metrics for the seeds of one device."""
        per_seed = self.state_per_seed + self.chunk_metrics_per_seed
        return per_seed * -(-self.num_seeds // num_devices)

    def describe(self, num_devices: int = 1) -> str:
        n = self.num_seeds
        return (f"memory estimate: state {fmt_bytes(self.state_per_seed)}/seed "
                f"({fmt_bytes(self.state_per_seed * n)} for {n} seeds); metrics "
                f"{fmt_bytes(self.chunk_metrics_per_seed)}/seed per chunk of {self.chunk_steps} "
                f"steps ({fmt_bytes(self.chunk_metrics_per_seed * n)}), "
                f"{fmt_bytes(self.run_metrics_per_seed * n)} for the whole run; "
                f"{fmt_bytes(self.device_bytes(num_devices))} per device")


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


def _nbytes(tree) -> int:
    total = 0
    for x in jax.tree.leaves(tree):
        itemsize = 8 if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x.dtype.itemsize
        total += int(np.prod(x.shape)) * itemsize
    return total


def estimate(trainer: Trainer, num_seeds: int, chunk_steps: int) -> MemoryEstimate:
    """Shapes of one seed's state and of one iteration's metrics, without compiling anything."""
    key = jax.random.key(0)
    state = jax.eval_shape(lambda k: init_run_state(trainer, k, trainer.default_hparams), key)
    _, metrics = jax.eval_shape(lambda s: trainer.step(s.carry, trainer.default_hparams), state)
    per_step = _nbytes(metrics) // trainer.env_steps_per_iteration
    return MemoryEstimate(_nbytes(state), per_step, num_seeds, chunk_steps,
                          trainer.num_env_steps)


def device_capacity(device: jax.Device) -> int | None:
    """Bytes the device can allocate (accelerators), or the host's available memory (CPU)."""
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    return host_available()


def host_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


__all__ = ["MemoryEstimate", "device_capacity", "estimate", "fmt_bytes", "host_available"]
