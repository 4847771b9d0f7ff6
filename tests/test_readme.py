"""Every ```python block of the README runs as written (in order, each in a fresh namespace).

A block preceded by an HTML comment `<!-- skip: reason -->` is left out, with its reason shown by
pytest; shell blocks (```bash) are not Python and are not run here.
"""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"(<!--\s*skip:(?P<reason>.*?)-->\s*\n)?```python\n(?P<code>.*?)```", re.S)


def _blocks():
    text = README.read_text()
    for match in _BLOCK.finditer(text):
        line = text[:match.start("code")].count("\n") + 1
        marks = [pytest.mark.skip(reason=match["reason"].strip())] if match["reason"] else []
        yield pytest.param(match["code"], id=f"README.md:{line}", marks=marks)


@pytest.mark.parametrize("code", list(_blocks()))
def test_readme_python_block_runs(code):
    try:
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    except Exception as err:  # noqa: BLE001 - any error means the block does not run as written
        pytest.fail(f"README block does not run as written: {type(err).__name__}: {err}")


def test_readme_has_python_blocks():
    assert len(list(_blocks())) >= 1


def _cli_commands():
    """Every `mbrl-jax train|sweep ...` line of the README's ```bash blocks (continuations
    joined, comments dropped)."""
    text = README.read_text()
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            command = command.split("#")[0].strip()
            if re.match(r"mbrl-jax (train|sweep) ", command) and "--help" not in command:
                yield command


def test_readme_cli_commands_parse():
    """The options the README shows exist (they are generated from the configs, so a renamed
    field would otherwise leave the README behind). Parsing only: nothing is run."""
    from mbrl_jax.cli import build_parser

    commands = list(_cli_commands())
    assert len(commands) >= 2
    parser = build_parser()
    for command in commands:
        try:
            parser.parse_args(command.split()[1:])
        except SystemExit:
            pytest.fail(f"README command does not parse: {command}")
