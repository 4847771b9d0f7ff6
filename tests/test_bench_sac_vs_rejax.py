"""The SAC-vs-rejax benchmark's markdown: per-round ratios are paired by round (a hand-worked
payload), next to the ratio of the two medians, and the protocol text follows the payload."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from sac_vs_rejax import write_markdown  # noqa: E402

MACHINE = {"cpu": "test cpu", "cores": 2, "memory_gib": 1.0, "jax": "x", "jax_backend": "cpu"}


def _row(library, run_s, steps_per_s):
    return {"library": library, "seeds": 16, "run_s": run_s, "load_1min": [1.0, 2.0, 3.0],
            "compile_s": 1.0, "env_steps_per_s": steps_per_s, "final_return_mean": -100.0,
            "final_return_ci95": 1.0}


def _payload(**extra):
    # ours 2, 4, 5 s and rejax 3, 2, 10 s per round: paired ratios (rejax / ours) 3/2 = 1.50,
    # 2/4 = 0.50, 10/5 = 2.00, median 1.50 (their mean, 1.33, would differ); the medians are
    # 4 s and 3 s, so the ratio of median rates is (16 * 1000 / 4) / (16 * 1000 / 3) = 0.75.
    rows = [_row("mbrl-jax", [2.0, 4.0, 5.0], 16_000 / 4.0),
            _row("rejax", [3.0, 2.0, 10.0], 16_000 / 3.0)]
    settings = {"hidden": [8], "batch_size": 4, "updates_per_step": 1, "lr": 1e-3,
                "gamma": 0.9, "tau": 0.1, "warmup": 10, "buffer_size": 1000,
                "total_steps": 1000}
    return {"settings": settings, "rounds": 3, "eval_episodes": 2, "rejax": "0.1.3",
            "machine": MACHINE, "date": "today", "rows": rows, **extra}


def test_per_round_ratios_are_paired_by_round(tmp_path):
    path = tmp_path / "out.md"
    write_markdown(_payload(alternating=True), path)
    text = path.read_text()
    ours = next(line for line in text.splitlines() if line.startswith("| mbrl-jax"))
    assert "| 0.75 | 1.50, 0.50, 2.00 (median 1.50) | 1.0, 2.0, 3.0 |" in ours
    assert "the order alternating by round" in text and "one untimed first run" in text


def test_protocol_text_follows_the_payload(tmp_path):
    path = tmp_path / "old.md"
    write_markdown(_payload(note="Note: measured under load."), path)
    text = path.read_text()
    assert "alternating" not in text and "untimed" not in text
    assert "Note: measured under load." in text


def test_machine_and_commit_come_from_the_provenance_block(tmp_path):
    from mbrl_jax.stats.provenance import describe, provenance

    payload = _payload()
    del payload["machine"], payload["date"]
    payload = {"provenance": provenance(["benchmarks/sac_vs_rejax.py", "--quick"]), **payload}
    path = tmp_path / "new.md"
    write_markdown(payload, path)
    text = path.read_text()
    assert describe(payload["provenance"]) in text
    assert "`benchmarks/sac_vs_rejax.py --quick`" in text
    assert f"({payload['provenance']['machine']['cores']} cores; other jobs" in text
