"""The README and the Markdown under docs/ say what the code does.

- Every ```python block runs as written (in order, each in a fresh namespace). A block preceded by
  an HTML comment `<!-- skip: reason -->` is left out, with its reason shown by pytest.
- Every `mbrl-jax train|sweep` line of a ```bash block, and every such command in inline code in a
  table row (a table cell cannot hold a code block), parses with the CLI's own parser.
- Every relative link and image points to a file that exists, and a `#fragment` into a Markdown
  file names one of its headings.
- The README's test command is the one `.ci/run` runs.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md"))
PAGES = [README, *DOCS]
_BLOCK = re.compile(r"(<!--\s*skip:(?P<reason>.*?)-->\s*\n)?```python\n(?P<code>.*?)```", re.S)
_FENCE = re.compile(r"^ *(```+|~~~+).*?^ *\1 *$", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _name(page):
    return page.relative_to(ROOT).as_posix()


def _blocks(page):
    text = page.read_text()
    for match in _BLOCK.finditer(text):
        line = text[:match.start("code")].count("\n") + 1
        marks = [pytest.mark.skip(reason=match["reason"].strip())] if match["reason"] else []
        yield pytest.param(page, match["code"], id=f"{_name(page)}:{line}", marks=marks)


def _all_blocks():
    return [block for page in PAGES for block in _blocks(page)]


@pytest.mark.parametrize("page, code", _all_blocks())
def test_python_block_runs(page, code):
    try:
        exec(compile(code, str(page), "exec"), {"__name__": "__readme__"})
    except Exception as err:  # noqa: BLE001 - any error means the block does not run as written
        pytest.fail(f"{_name(page)} block does not run as written: {type(err).__name__}: {err}")


def test_pages_have_runnable_python_blocks():
    """The README keeps a quickstart that runs, and the docs keep at least one runnable example
    (a regex gone wrong would otherwise pass the tests above by finding nothing)."""
    def runnable(page):
        return [b for b in _blocks(page) if not b.marks]

    assert len(runnable(README)) >= 1
    assert sum(len(runnable(page)) for page in DOCS) >= 1


def _cli_commands(page):
    """Every `mbrl-jax train|sweep ...` line of the page's ```bash blocks (continuations joined,
    comments dropped), and every such command in inline code in a table row."""
    text = page.read_text()
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            command = command.split("#")[0].strip()
            if re.match(r"mbrl-jax (train|sweep) ", command) and "--help" not in command:
                yield command
    for row in re.findall(r"^\|.*\|$", _FENCE.sub("", text), re.M):
        yield from re.findall(r"`(mbrl-jax (?:train|sweep) [^`]*)`", row)


def test_cli_commands_parse():
    """The options the README and docs show exist (they are generated from the configs, so a
    renamed field would otherwise leave the docs behind). Parsing only: nothing is run."""
    from mbrl_jax.cli import build_parser

    commands = [(page, command) for page in PAGES for command in _cli_commands(page)]
    assert len(commands) >= 10
    assert any(page == README for page, _ in commands)
    parser = build_parser()
    for page, command in commands:
        try:
            parser.parse_args(command.split()[1:])
        except SystemExit:
            pytest.fail(f"{_name(page)}: command does not parse: {command}")


def _slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped,
    spaces to hyphens."""
    text = re.sub(r"[`*]|<[^>]+>", "", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page):
    seen, anchors = {}, set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#* *$", _FENCE.sub("", page.read_text()), re.M):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(page):
    text = _FENCE.sub("", page.read_text())
    text = re.sub(r"`[^`\n]*`", "", text)   # inline code is not a link
    for target in _LINK.findall(text):
        if not re.match(r"[a-z][a-z0-9+.-]*:", target):   # http:, https:, mailto: ...
            yield target


def test_link_checker_sees_links():
    """The checker below finds the links it must check (a broken pattern would find none)."""
    links = {target for target in _links(README)}
    assert "docs/README.md" in links and "docs/README.md#claims" in links
    assert sum(1 for page in DOCS for target in _links(page) if target.endswith(".png")) >= 10
    assert _slug("MBPO rollouts: batched vs the tutorial's loop") == \
        "mbpo-rollouts-batched-vs-the-tutorials-loop"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_relative_links_point_to_existing_files(page):
    broken = []
    for target in _links(page):
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target} (no file {resolved})")
        elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
            broken.append(f"{target} (no heading #{fragment} in {_name(resolved)})")
    assert not broken, f"{_name(page)}: broken links: " + "; ".join(broken)


def test_readme_test_command_is_what_ci_runs():
    """.ci/run runs the README's test command, so the README cannot drift from CI."""
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1].strip()
    assert ci in README.read_text(), f"README does not show the CI command: {ci}"
