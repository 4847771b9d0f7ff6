import os
import shutil
import tempfile

import jax
import numpy as np
import pytest
from flax import struct

_CACHE_ENV = "MBRL_JAX_TEST_COMPILATION_CACHE"
# Compile-time flags for the fast suite (each measured on the tiny trainers: together they cut
# the backend compile of Dreamer's, MuZero's, SAC's, MBPO's and PETS's whole runs by about 30-40%):
# no LLVM optimisation passes, none of LLVM's expensive passes, and XLA's older elemental emitters
# for fusions instead of the MLIR fusion emitters.
_FAST_COMPILE = ("--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true "
                 "--xla_cpu_use_fusion_emitters=false")


def pytest_configure(config):
    """One persistent XLA compilation cache for the whole test session, shared by the xdist
    workers and by the CLI subprocesses the tests start (through JAX_COMPILATION_CACHE_DIR).
    Many tests build the same small trainers and CLI runs; the cache makes each distinct program
    compile once per session instead of once per test and per process. Jit tracing is unchanged,
    so the tests that count traces still see every trace. The folder is fresh for each session
    (the controller creates it, workers inherit it) and removed at the end: timings stay cold-start
    like CI's."""
    path = os.environ.get(_CACHE_ENV)
    if path is None:
        path = tempfile.mkdtemp(prefix="mbrl-jax-test-xla-cache-")
        os.environ[_CACHE_ENV] = path
        config._mbrl_jax_cache_owner = path
    os.environ["JAX_COMPILATION_CACHE_DIR"] = path
    jax.config.update("jax_compilation_cache_dir", path)
    # at -O0 most programs compile in under JAX's default 1 s threshold; cache those too (the
    # tests rebuild the same small trainers and helpers in new closures, and the workers and the
    # CLI subprocesses share the folder)
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    # The fast suite is bound by compiling many small programs that each run for milliseconds,
    # so it compiles with _FAST_COMPILE (XLA's graph passes still run, so fusion decisions stay;
    # the emitted code may round an elementwise op differently in the last bit, which no test
    # depends on: equality tests compare two runs of the same flags). Set before the backend
    # starts, in the controller, the workers and (inherited) the CLI subprocesses; a flag the
    # user already gives wins. Not for the slow learning tests, which are bound by running.
    flags = os.environ.get("XLA_FLAGS", "")
    markexpr = (config.getoption("markexpr", default="") or "").replace("not slow", "")
    if "--xla_backend_optimization_level" not in flags and "slow" not in markexpr:
        os.environ["XLA_FLAGS"] = f"{flags} {_FAST_COMPILE}".strip()


def pytest_unconfigure(config):
    path = getattr(config, "_mbrl_jax_cache_owner", None)
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


@struct.dataclass
class ScaleHParams:
    """One sweepable number for the driver's toy trainers (every HParams has `validate`)."""

    scale: jax.Array

    def validate(self) -> "ScaleHParams":
        return self


def tree_equal(a, b) -> bool:
    """Exact equality of two pytrees of arrays (structure and every value; NaN equals NaN)."""
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    if ta != tb:
        return False
    return all(np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")
               for x, y in zip(map(np.asarray, la), map(np.asarray, lb), strict=True))


@pytest.fixture
def assert_tree_equal():
    def check(a, b):
        assert tree_equal(a, b)
    return check
