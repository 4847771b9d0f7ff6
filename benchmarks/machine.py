"""Describe the machine a benchmark ran on (recorded next to every result)."""

import os
import platform
import sys


def describe_machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = None
    try:
        with open("/proc/meminfo") as f:
            mem_gib = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        # other jobs on a shared machine skew absolute rates (ratios are taken in the same rounds)
        "load_average_1_5_15_min": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import jax

        info["jax"] = jax.__version__
        info["jax_devices"] = [str(d) for d in jax.devices()]
        info["jax_backend"] = jax.default_backend()
    except ImportError:
        pass
    return info
