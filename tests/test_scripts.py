"""Reproduction scripts and benchmarks write regenerated results into an ignored folder unless
asked, and every JSON they write carries the provenance block (`mbrl_jax.stats.provenance`)."""

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import common  # noqa: E402
import output  # noqa: E402


def _ignored(path: Path) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT).returncode == 0


@pytest.mark.parametrize("tree", [common, output], ids=["scripts", "benchmarks"])
def test_results_go_to_an_ignored_folder_unless_asked(tree, tmp_path):
    parser = argparse.ArgumentParser()
    tree.add_results_option(parser)
    default = tree.results_dir(parser.parse_args([]))
    asked = tree.results_dir(parser.parse_args(["--write-results"]))
    assert asked == Path(tree.__file__).parent / "results" and default != asked
    assert tree.results_dir(parser.parse_args(["--out", str(tmp_path / "o")])) == tmp_path / "o"
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    assert _ignored(default / "fig.json")  # git ignores the default folder
    assert not _ignored(asked / "fig.json")  # and keeps the committed one


def _writes_json_directly(path: Path) -> list[int]:
    """Lines that write JSON to a file without the helper: `json.dump(...)` or
    `<file>.write_text(json.dumps(...))` / `<file>.write(json.dumps(...))`."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr == "dump" and getattr(node.func.value, "id", None) == "json":
            lines.append(node.lineno)
        elif node.func.attr in ("write_text", "write") and any(
                isinstance(sub, ast.Attribute) and sub.attr == "dumps"
                for arg in node.args for sub in ast.walk(arg)):
            lines.append(node.lineno)
    return lines


FILES = sorted([*(ROOT / "scripts").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")])
# JSON lines to and from a subprocess
PIPES = {"_mbrl_lib_runner.py", "vs_mbrl_lib.py", "planning_vs_mbrl_lib.py"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_results_json_is_written_through_the_provenance_helper(path):
    direct = _writes_json_directly(path)
    if path.name in PIPES:  # their pipe writes go to a process's stdin, not to a file
        direct = [line for line in direct
                  if "stdin" not in path.read_text().splitlines()[line - 1]]
    assert not direct, f"{path.name} writes JSON without write_json at lines {direct}"


def test_the_check_sees_a_direct_write(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import json\nout.write_text(json.dumps({'a': 1}, indent=1) + '\\n')\n"
                   "json.dump({}, f)\n")
    assert _writes_json_directly(bad) == [2, 3]


def test_a_script_writes_its_results_with_the_provenance_block(tmp_path, monkeypatch):
    import tutorial_frozenlake

    argv = ["tutorial_frozenlake.py", "--seeds", "2", "--steps", "300", "--episodes", "5",
            "--out", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(tutorial_frozenlake, "PLANNING", (0,))  # one program to compile
    tutorial_frozenlake.main()
    written = json.loads((tmp_path / "tutorial_frozenlake.json").read_text())
    assert list(written)[:2] == ["provenance", "seeds"] and written["seeds"] == 2
    p = written["provenance"]
    assert p["command"] == " ".join(argv)
    if (ROOT / ".git").exists():
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
        assert p["git_commit"] == head
    assert p["machine"]["jax_backend"] and p["versions"]["jax"]


def test_pets_results_smoke_run(tmp_path, monkeypatch):
    """scripts/pets_results.py end to end at tiny sizes: JSON with provenance and the plot."""
    import pets_results

    from mbrl_jax.pets import PETSConfig

    monkeypatch.setattr(pets_results, "PRESETS", {
        "pendulum": ("Pendulum-v1", PETSConfig.tiny(), 10, -200.0, 20)})
    monkeypatch.setattr(sys, "argv", ["pets_results.py", "--seeds", "2", "--out", str(tmp_path)])
    pets_results.main()
    written = json.loads((tmp_path / "pets_pendulum.json").read_text())
    assert written["env_steps"] == [10, 20] and np.array(written["greedy_return"]).shape == (2, 2)
    assert written["provenance"]["command"] and (tmp_path / "pets_pendulum.png").exists()
