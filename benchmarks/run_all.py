"""Run every benchmark in benchmarks/ and write one results table with the machine description.

    python benchmarks/run_all.py --quick --out DIR     # a few minutes; DIR/run_all.{json,md}

DIR defaults to benchmarks/runs/ (ignored by git); --write-results writes the committed
benchmarks/results/ instead.

Each benchmark script (a file here with a `__main__` block, not named `_*.py`) runs in its own
process with `--quick`, and with `--out DIR/<name>` when it accepts `--out`; a script that fails
(e.g. a missing optional baseline such as gymnasium or torch) or passes `--timeout` is recorded
as such and the others still run. Once `--budget` seconds have gone, the remaining ones are skipped
(recorded), so `--quick` stays within about three minutes. The table lists each benchmark's
status, wall-clock and its headline lines (its own table when it writes one to DIR).
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks.output import add_results_option, describe, results_dir, write_json  # noqa: E402


def benchmark_scripts() -> list[Path]:
    return sorted(p for p in HERE.glob("*.py")
                  if p.name != "run_all.py" and not p.name.startswith("_")  # _x.py: helpers
                  and '__name__ == "__main__"' in p.read_text())


def run_one(script: Path, out: Path, quick: bool, timeout: float) -> dict:
    argv = [sys.executable, str(script)] + (["--quick"] if quick else [])
    if "--out" in script.read_text():
        argv += ["--out", str(out / script.stem)]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    t0 = time.perf_counter()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
        status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"
        text = done.stdout + ("" if done.returncode == 0 else done.stderr)
    except subprocess.TimeoutExpired as err:
        status, text = f"timed out after {timeout:.0f} s", (err.stdout or b"").decode()
    lines = [x for x in text.splitlines() if x.strip()]
    return {"benchmark": script.stem, "status": status,
            "wall_s": round(time.perf_counter() - t0, 1), "tail": lines[-12:]}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's --quick mode")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds per benchmark before it is stopped")
    parser.add_argument("--budget", type=float, default=170.0,
                        help="seconds for all benchmarks; later ones are skipped")
    add_results_option(parser)
    args = parser.parse_args(argv)
    args.out = results_dir(args)
    rows, start = [], time.perf_counter()
    for script in benchmark_scripts():
        left = args.budget - (time.perf_counter() - start)
        if left < 5:
            rows.append({"benchmark": script.stem, "status": "skipped (budget spent)",
                         "wall_s": 0.0, "tail": []})
            continue
        print(f"running {script.name} ...", flush=True)
        rows.append(run_one(script, args.out, args.quick, min(args.timeout, left)))
        print(f"  {rows[-1]['status']} in {rows[-1]['wall_s']} s", flush=True)
    written = write_json(args.out / "run_all.json", {"quick": args.quick, "benchmarks": rows})
    lines = ["# Benchmarks" + (" (quick)" if args.quick else ""), "",
             describe(written["provenance"]), "",
             "| benchmark | status | wall (s) |", "|---|---|---:|"]
    lines += [f"| {r['benchmark']} | {r['status']} | {r['wall_s']} |" for r in rows]
    for r in rows:
        lines += ["", f"## {r['benchmark']}", "", "```", *r["tail"], "```"]
        table = args.out / r["benchmark"] / f"{r['benchmark']}.md"
        if table.exists():
            lines += ["", table.read_text()]
    (args.out / "run_all.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / 'run_all.md'}")
    return rows


if __name__ == "__main__":
    main()
