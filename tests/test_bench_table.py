"""The cross-algorithm table (benchmarks/table.py) on one tiny cell: Dyna-Q on FourRooms at the
smoke budget, with a refused cell (SAC on FourRooms) and a row whose algorithm is not registered.
The JSON and Markdown must hold the cell with finite numbers, mark the other two with their
reasons, and a second run must skip the finished cell and still rebuild the table from it."""

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import table  # noqa: E402

ARGS = ["--budget", "smoke", "--seeds", "2", "--envs", "FourRooms-misc",
        "--algorithms", "dyna-q", "sac", "no-such-algorithm"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("table")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(table, "ISSUE_ROWS", (*table.ISSUE_ROWS, "no-such-algorithm"))
        written = table.main([*ARGS, "--out", str(out)])
    return out, written


def test_the_cell_is_written_with_finite_numbers(first_run):
    out, written = first_run
    (cell,) = [c for c in written["cells"] if c["algorithm"] == "dyna-q"]
    assert cell["env"] == "FourRooms-misc" and cell["seeds"] == 2
    assert cell["env_steps_per_seed"] == 300  # DynaConfig.tiny(): 300 steps, 1 env
    assert len(cell["eval_steps"]) == table.EVALS["smoke"] and cell["eval_steps"][-1] == 300
    for key in ("final_iqm", "final_low", "final_high", "compile_s", "run_s",
                "env_steps_per_s"):
        assert math.isfinite(cell[key]), key
    assert cell["final_low"] <= cell["final_iqm"] <= cell["final_high"]
    assert 0.0 <= cell["final_iqm"] <= 1.0  # FourRooms pays 1 at the goal, once
    assert cell["updates_per_env_step"] == 1 + 5  # one real and n = 5 planned table updates
    assert cell["machine"] and cell["commit"] == written["provenance"]["git_commit"]
    saved = json.loads((out / "cells" / "dyna-q__FourRooms-misc.json").read_text())
    assert saved["provenance"]["command"] and saved["config"]["planning_steps"] == 5
    md = (out / "table.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| FourRooms-misc | dyna-q"))
    assert f"{cell['env_steps_per_seed']:,}" in row and "nan" not in row.lower()
    assert (out / "curves.png").stat().st_size > 0


def test_refused_and_unregistered_cells_say_why(first_run):
    out, written = first_run
    notes = {(n["algorithm"], n["env"]): n for n in written["not_run"]}
    assert notes[("sac", "FourRooms-misc")]["status"] == "n/a"
    assert notes[("sac", "FourRooms-misc")]["reason"] == "continuous actions only"
    assert notes[("no-such-algorithm", "FourRooms-misc")]["reason"] == "not registered"
    md = (out / "table.md").read_text()
    assert "| sac | n/a: continuous actions only |" in md
    assert "| no-such-algorithm | not run: not registered |" in md


def test_a_rerun_skips_the_finished_cell_and_keeps_it_in_the_table(first_run, capsys):
    out, _ = first_run
    path = out / "cells" / "dyna-q__FourRooms-misc.json"
    before = path.read_text()
    capsys.readouterr()
    written = table.main([*ARGS[:-1], "--out", str(out)])
    assert "dyna-q on FourRooms-misc: finished before, skipped" in capsys.readouterr().out
    assert path.read_text() == before
    assert [c["algorithm"] for c in written["cells"]] == ["dyna-q"]


def test_every_issue_row_and_env_has_a_budget_and_threshold():
    assert set(table.THRESHOLDS) == set(table.ENVS) == set(table.FAMILY)
    assert set(table.EVAL_STEPS) == set(table.ENVS)
    for (name, family), budgets in table.BUDGETS.items():
        assert family in set(table.FAMILY.values())
        assert set(budgets) == {"small", "full"}, name


def test_a_cell_known_not_to_run_on_this_backend_is_marked_with_why(tmp_path, monkeypatch):
    monkeypatch.setitem(table.NOT_RUN, ("dyna-q", "FourRooms-misc", "cpu"), "hangs here")
    written = table.main([*ARGS[:4], "--envs", "FourRooms-misc", "--algorithms", "dyna-q",
                          "--out", str(tmp_path)])
    assert written["cells"] == []
    assert [(n["status"], n["reason"]) for n in written["not_run"]
            if n["algorithm"] == "dyna-q"] == [("not run", "hangs here")]
    assert "| dyna-q | not run: hangs here |" in (tmp_path / "table.md").read_text()


def test_the_pets_row_evaluates_twice_at_the_small_budget():
    from mbrl_jax.cli.registry import registry

    entry = table.entry_for("pets", registry()["pets"], "Pendulum-v1", "small")
    config, eval_every = table.cell_config(entry, "Pendulum-v1", "small")
    assert (config.total_steps, eval_every, config.eval_episodes) == (1000, 500, 1)
