"""One exception base: every exception class the package defines derives from `MbrlJaxError`
(and keeps its builtin parent, so `except ValueError` handlers still work)."""

import ast
import importlib
from pathlib import Path

from mbrl_jax.core.errors import ConfigError, MbrlJaxError

PACKAGE = Path(__file__).resolve().parents[2] / "mbrl_jax"


def _exception_classes():
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                yield module, node.name


def test_every_exception_class_derives_from_the_base():
    found = list(_exception_classes())
    assert len(found) >= 12
    for module, name in found:
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, MbrlJaxError), f"{module}.{name} does not derive from MbrlJaxError"


def test_the_builtin_parent_is_kept():
    err = ConfigError("epsilon", "must be in [0, 1]")
    assert isinstance(err, ValueError) and isinstance(err, MbrlJaxError)
    assert err.field == "epsilon" and str(err) == "epsilon: must be in [0, 1]"
