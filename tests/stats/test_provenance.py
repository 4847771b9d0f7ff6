"""The provenance block of every results file: its fields and types, the git state against git
itself in a repository made here, the command line as given, and write_json's file."""

import datetime
import json
import platform
import shlex
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from mbrl_jax.stats import provenance as prov

ROOT = Path(__file__).resolve().parents[2]


def _git(folder, *args):
    return subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t",
                           "-C", str(folder), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository with one commit, in a folder git may not search above."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    folder = tmp_path / "repo"
    folder.mkdir()
    _git(folder, "init", "-q")
    (folder / "code.py").write_text("x = 1\n")
    _git(folder, "add", "code.py")
    _git(folder, "commit", "-q", "-m", "first")
    return folder


def test_fields_present_and_typed():
    p = prov.provenance(["run.py"])
    assert set(p) == {"command", "cwd", "git_commit", "git_dirty", "machine", "versions",
                      "date_utc"}
    m = p["machine"]
    assert set(m) == {"platform", "cpu", "cores", "memory_gib", "load_average_1_5_15_min",
                      "jax_backend", "jax_devices"}
    assert m["platform"] == platform.platform() and isinstance(m["cpu"], str) and m["cpu"]
    assert isinstance(m["cores"], int) and m["cores"] >= 1
    assert isinstance(m["memory_gib"], float) and m["memory_gib"] > 0
    assert len(m["load_average_1_5_15_min"]) == 3
    assert m["jax_backend"] == jax.default_backend()
    assert m["jax_devices"] == [d.device_kind for d in jax.devices()]
    v = p["versions"]
    assert v["python"] == platform.python_version()
    assert v["jax"] == jax.__version__ and v["numpy"] == np.__version__
    assert {"jaxlib", "flax", "optax", "distrax", "gymnax", "chex"} <= set(v)
    date = datetime.datetime.fromisoformat(p["date_utc"])
    assert date.utcoffset() == datetime.timedelta(0)
    now = datetime.datetime.now(datetime.UTC)
    assert abs((now - date).total_seconds()) < 60
    json.dumps(p, allow_nan=False)  # JSON as it stands


def test_cpu_and_memory_come_from_proc_when_present():
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    if not (cpuinfo.exists() and meminfo.exists()):
        pytest.skip("no /proc")
    m = prov.machine()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
              if line.startswith("model name")]
    if models:
        assert m["cpu"] == models[0]
    kib = next(int(line.split()[1]) for line in meminfo.read_text().splitlines()
               if line.startswith("MemTotal:"))
    assert m["memory_gib"] == round(kib / 2**20, 1)


def test_a_library_not_installed_is_left_out(monkeypatch):
    monkeypatch.setattr(prov, "LIBRARIES", ("numpy", "no-such-distribution-xyz"))
    assert prov.versions() == {"python": platform.python_version(), "numpy": np.__version__}


def test_jax_is_not_started_by_a_program_that_never_imported_it(monkeypatch):
    monkeypatch.delitem(sys.modules, "jax")
    m = prov.machine()
    assert m["jax_backend"] is None and m["jax_devices"] is None


def test_commit_is_git_head_and_dirty_follows_the_tree(repo):
    head = _git(repo, "rev-parse", "HEAD")
    p = prov.provenance(["x"], repo=repo)
    assert p["git_commit"] == head and len(head) == 40
    assert p["git_dirty"] is False
    (repo / "code.py").write_text("x = 2\n")  # a tracked file changed
    assert prov.git_state(repo) == {"commit": head, "dirty": True}
    _git(repo, "commit", "-q", "-am", "second")
    assert prov.git_state(repo) == {"commit": _git(repo, "rev-parse", "HEAD"), "dirty": False}
    (repo / "new.py").write_text("")  # an untracked file counts
    assert prov.git_state(repo)["dirty"] is True
    (repo / ".gitignore").write_text("new.py\nresults/\n")
    _git(repo, "add", ".gitignore")
    _git(repo, "commit", "-q", "-m", "ignore")
    (repo / "results").mkdir()
    (repo / "results" / "r.json").write_text("{}")  # ignored files do not
    assert prov.git_state(repo)["dirty"] is False


def test_none_outside_a_git_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert prov.git_state(tmp_path) is None
    p = prov.provenance(["x"], repo=tmp_path)
    assert p["git_commit"] is None and p["git_dirty"] is None
    assert prov.git_state(tmp_path / "missing") is None  # no exception either
    monkeypatch.setenv("PATH", str(tmp_path))  # no git program at all
    assert prov.git_state(tmp_path) is None


def test_empty_repository_has_no_commit(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    _git(tmp_path, "init", "-q")
    assert prov.git_state(tmp_path) is None


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not run from a git checkout")
def test_default_checkout_is_the_one_holding_the_package():
    assert prov.provenance()["git_commit"] == _git(ROOT, "rev-parse", "HEAD")


def test_argv_recorded_shell_quoted(monkeypatch):
    argv = ["scripts/fig.py", "--out", "my runs/a", "--set", "x='1'"]
    command = prov.provenance(argv)["command"]
    assert command == "scripts/fig.py --out 'my runs/a' --set 'x='\"'\"'1'\"'\"''"
    assert shlex.split(command) == argv
    monkeypatch.setattr(sys, "argv", ["bench.py", "--quick"])
    assert prov.provenance()["command"] == "bench.py --quick"


def test_write_json_round_trips(tmp_path):
    path = tmp_path / "deep" / "er" / "r.json"
    payload = {"seeds": 3, "curve": np.arange(3, dtype=np.float32) / 2,
               "best": np.float64(0.25), "nested": {"n": np.int32(7), "s": "a"}}
    written = prov.write_json(path, payload, argv=["s.py", "--seeds", "3"])
    text = path.read_text()
    assert text.endswith("}\n") and text.startswith('{\n  "provenance": {\n    "command"')
    loaded = json.loads(text)
    assert list(loaded) == ["provenance", "seeds", "curve", "best", "nested"]
    assert loaded == written
    assert loaded["provenance"]["command"] == "s.py --seeds 3"
    assert loaded["curve"] == [0.0, 0.5, 1.0] and loaded["best"] == 0.25
    assert loaded["nested"] == {"n": 7, "s": "a"} and loaded["seeds"] == 3
    with pytest.raises(ValueError, match="provenance"):
        prov.write_json(path, {"provenance": {}})
    with pytest.raises(TypeError):
        prov.write_json(tmp_path / "bad.json", {"x": object()})


def test_describe_names_the_commit_and_the_command():
    p = {**prov.provenance(["b.py", "--quick"]), "git_commit": "0123456789abcdef" * 2 + "01234567",
         "git_dirty": True}
    line = prov.describe(p)
    assert "commit 0123456789ab with uncommitted changes" in line and "`b.py --quick`" in line
    assert f"{p['machine']['cores']} cores" in line
    assert f"jax {jax.__version__} on {jax.default_backend()} (" in line
    assert "not a git checkout" in prov.describe({**p, "git_commit": None, "git_dirty": None})


def test_results_folder_committed_only_when_asked(tmp_path):
    committed, scratch = tmp_path / "results", tmp_path / "runs"
    assert prov.results_folder(committed, scratch, write_results=False) == scratch
    assert scratch.is_dir() and not committed.exists()
    assert prov.results_folder(committed, scratch, write_results=True) == committed
    mine = tmp_path / "mine"
    assert prov.results_folder(committed, scratch, write_results=True, out=mine) == mine
    assert mine.is_dir()
