"""Where a results file came from: the command line, the code's git commit, the machine, the
library versions and the date, written by `write_json` at the top of every results file.

    from mbrl_jax.stats.provenance import write_json
    write_json(folder / "fig8_2.json", {"seeds": 30, "results": summary})
    # -> {"provenance": {"command": ..., "git_commit": ..., ...}, "seeds": 30, "results": ...}

and where such files go (`results_folder`, the one rule of the scripts and benchmarks): into a
git-ignored scratch folder unless asked, into the committed results folder with
`--write-results`, into `--out` when given.

The git state is that of the checkout holding this package, read once when this module is first
imported (so at the start of a run, before the run's own outputs change the tree). The standard
library only: nothing here may fail a run whose numbers are already computed.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

# Distributions whose versions are recorded (those installed); the CUDA plugins only on GPUs.
LIBRARIES = ("jax", "jaxlib", "flax", "optax", "distrax", "gymnax", "chex", "numpy",
             "jax-cuda12-plugin", "jax-cuda12-pjrt")


def git_state(folder: str | os.PathLike) -> dict | None:
    """The git checkout holding `folder`: {"commit": HEAD's full hash, "dirty": True when tracked
    files differ from HEAD or untracked files that git does not ignore exist}. None when `folder`
    is not in a git checkout (or git is not installed, or HEAD has no commit yet)."""
    def git(*args):
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=30)

    try:
        head = git("rev-parse", "--verify", "HEAD")
        if head.returncode != 0:
            return None
        status = git("status", "--porcelain")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(),
            "dirty": status.returncode != 0 or bool(status.stdout.strip())}


def _package_checkout() -> Path | None:
    """The root of the source checkout this package runs from (None for an installed wheel)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / ".git").exists() else None  # a folder, or a file in a worktree


_CHECKOUT = _package_checkout()
_START_GIT = git_state(_CHECKOUT) if _CHECKOUT is not None else None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)  # kB -> GiB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (AttributeError, ValueError, OSError):
        return None


def machine() -> dict:
    """The machine, as a dict of:

    platform: `platform.platform()`, e.g. "Linux-6.8.0-x86_64-with-glibc2.39";
    cpu: the CPU model (/proc/cpuinfo's "model name", else `platform.processor()`; None unknown);
    cores: logical cores (`os.cpu_count()`);
    memory_gib: total memory in GiB (None unknown);
    load_average_1_5_15_min: the load averages when this was called (None where the OS has none;
        other jobs on a shared machine skew timings);
    jax_backend: `jax.default_backend()` ("cpu", "gpu", "tpu");
    jax_devices: the kind of every device JAX sees, e.g. ["NVIDIA H100 80GB HBM3"] or ["cpu"].
    The last two are None when the program never imported jax: asking would start a backend,
    which on a GPU takes most of its memory away from the processes that do the work.
    """
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    backend = devices = None
    if "jax" in sys.modules:
        try:
            jax = sys.modules["jax"]
            backend = jax.default_backend()
            devices = [d.device_kind for d in jax.devices()]
        except Exception:  # a broken backend must not lose a finished result
            pass
    return {"platform": platform.platform(), "cpu": _cpu_model(), "cores": os.cpu_count(),
            "memory_gib": _memory_gib(), "load_average_1_5_15_min": load,
            "jax_backend": backend, "jax_devices": devices}


def versions() -> dict:
    """{"python": "3.12.3", "jax": ..., ...}: Python's version and that of each of `LIBRARIES`
    that is installed (distribution metadata; a library that is not installed is left out)."""
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def provenance(argv: list[str] | None = None, repo: str | os.PathLike | None = None) -> dict:
    """Where a result came from, as a JSON-able dict of:

    command: the command line, shell-quoted (`shlex.join` of `argv`, default `sys.argv`: the
        script and its arguments, without the interpreter);
    cwd: the working folder, against which relative paths in the command resolve;
    git_commit: the full commit hash of the code's git checkout, None outside one;
    git_dirty: True when that checkout had uncommitted changes (untracked files included), None
        outside a checkout;
    machine: see `machine()`;
    versions: see `versions()`;
    date_utc: the current UTC date-time, ISO 8601 to the second ("2026-03-01T12:00:00+00:00").

    The checkout is the one holding this package, as it was when this module was first imported;
    `repo` names another folder, whose git state is read now.
    """
    git = git_state(repo) if repo is not None else _START_GIT
    return {
        "command": shlex.join(sys.argv if argv is None else argv),
        "cwd": os.getcwd(),
        "git_commit": git["commit"] if git else None,
        "git_dirty": git["dirty"] if git else None,
        "machine": machine(),
        "versions": versions(),
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _to_json(value):
    """numpy scalars and arrays (anything with `tolist`), paths; other numbers via float."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return float(value)  # raises TypeError for what JSON cannot hold


def write_json(path: str | os.PathLike, payload: dict, argv: list[str] | None = None,
               repo: str | os.PathLike | None = None) -> dict:
    """Write `{"provenance": provenance(argv, repo), **payload}` to `path` (indent 2, a trailing
    newline; parent folders created) and return what was written, as `json.load` reads it back
    (numpy arrays and scalars become lists and numbers)."""
    if "provenance" in payload:
        raise ValueError("payload has its own 'provenance' key; write_json adds it")
    document = {"provenance": provenance(argv, repo), **payload}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, default=_to_json) + "\n"
    path.write_text(text)
    return json.loads(text)


def describe(prov: dict) -> str:
    """One Markdown line for a results table: machine, JAX, code, command and date."""
    m, v = prov["machine"], prov["versions"]
    jax = (f"on {m['jax_backend']} ({', '.join(m['jax_devices'])})" if m["jax_backend"]
           else "(not started by this process)")
    commit = (prov["git_commit"] or "")[:12] or "not a git checkout"
    if prov["git_dirty"]:
        commit += " with uncommitted changes"
    return (f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['platform']}; "
            f"jax {v.get('jax')} {jax}; load average "
            f"{m['load_average_1_5_15_min']} (1/5/15 min) when written. Code: commit {commit}; "
            f"`{prov['command']}`; {prov['date_utc']}.")


def results_folder(committed: str | os.PathLike, scratch: str | os.PathLike, *,
                   write_results: bool, out: str | os.PathLike | None = None) -> Path:
    """The folder a script or benchmark writes into, created: `out` when given, else the
    committed results folder when asked (`write_results`), else the git-ignored `scratch`."""
    folder = Path(out) if out is not None else Path(committed if write_results else scratch)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def add_results_options(parser: argparse.ArgumentParser, committed: str | os.PathLike,
                        scratch: str | os.PathLike, out: bool = True) -> None:
    """--write-results (and --out FOLDER unless `out` is False) on `parser`, for
    `results_folder(committed, scratch, write_results=args.write_results, out=args.out)`."""
    parser.add_argument("--write-results", action="store_true",
                        help=f"write into the committed {committed} (default: {scratch}, "
                             "ignored by git)")
    if out:
        parser.add_argument("--out", type=Path, default=None, metavar="FOLDER",
                            help="write into FOLDER instead")
