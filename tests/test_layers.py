"""The package's layers, read from its imports: a lower layer never imports a higher one.

    core (JAX primitives)  <  envs, stats  <  driver, models, planning  <  the algorithms  <  cli

Every import statement counts, also those inside functions (a deferred import is still a
dependency). Two algorithms may import each other's public pieces (MBPO builds on SAC)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mbrl_jax"
LAYERS = {
    "core": 0,
    "envs": 1, "stats": 1,
    "driver": 2, "models": 2, "planning": 2,
    "dyna": 3, "sac": 3, "mbpo": 3, "dreamer": 3, "muzero": 3, "pets": 3,
    "cli": 4, "__main__": 4,
}


def _layer_of(module: str) -> str:
    """mbrl_jax.driver.loop -> driver."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "mbrl_jax":  # `from mbrl_jax import envs`
                found += [(node.lineno, f"mbrl_jax.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("mbrl_jax.")]


def _modules():
    """Every module but the package's own __init__ (the public surface sits above all)."""
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages | {"__main__"} == set(LAYERS), "give a new package a layer in LAYERS"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    upward = [f"line {line}: {name} ({_layer_of(name)})" for line, name in _imports(path)
              if LAYERS[_layer_of(name)] > LAYERS[own]]
    assert not upward, f"{own} (layer {LAYERS[own]}) imports a higher layer: {upward}"


def test_the_check_sees_deferred_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from mbrl_jax.cli.common import CLIError\n")
    assert _imports(source) == [(2, "mbrl_jax.cli.common")]
