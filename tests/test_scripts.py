"""Reproduction scripts write regenerated results into an ignored folder unless asked."""

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import common  # noqa: E402


def test_results_go_to_an_ignored_folder_unless_asked():
    parser = argparse.ArgumentParser()
    common.add_results_option(parser)
    default = common.results_dir(parser.parse_args([]))
    asked = common.results_dir(parser.parse_args(["--write-results"]))
    assert asked == ROOT / "scripts" / "results" and default != asked
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(default / "tutorial_frozenlake.json")],
        cwd=ROOT)
    assert ignored.returncode == 0  # git ignores the default folder
