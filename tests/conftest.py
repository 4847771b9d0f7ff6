import jax
import numpy as np
import pytest


def tree_equal(a, b) -> bool:
    """Exact equality of two pytrees of arrays (structure and every value)."""
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    if ta != tb:
        return False
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb, strict=True))


@pytest.fixture
def assert_tree_equal():
    def check(a, b):
        assert tree_equal(a, b)
    return check
