"""The command-line flags generated from config dataclasses (`mbrl_jax.cli.config_flags`)."""

import argparse
import dataclasses
from typing import Literal

import pytest

from mbrl_jax.cli.config_flags import add_flags, field_docs, overrides, to_argv


@dataclasses.dataclass(frozen=True)
class Inner:
    """A nested config.

    Attributes:
      width: layer width.
    """

    width: int = 8


@dataclasses.dataclass(frozen=True)
class Example:
    """An example.

    Intro text: not a field.

    Attributes:
      steps: how many steps; a long entry that goes on
        to a second line.
      rate, decay: two fields, one entry.
      mode: one of two (50% of the time).
      sizes: widths.
      limit: an optional bound.
      flag: on or off.
      inner: the nested config.
    """

    steps: int = 10
    rate: float = 0.5
    decay: float = 0.0
    mode: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = (4, 4)
    limit: float | None = None
    flag: bool = True
    inner: Inner = Inner()


def _parser():
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_flags(parser, Example(), nested={"inner": (Inner(), ())})
    return parser


def test_field_docs_reads_the_attribute_list():
    docs = field_docs(Example)
    assert docs["steps"] == "how many steps; a long entry that goes on to a second line."
    assert docs["rate"] == docs["decay"] == "two fields, one entry."
    assert set(docs) == {f.name for f in dataclasses.fields(Example)}


def test_flags_parse_every_kind_and_default_to_the_base():
    parser = _parser()
    assert overrides(Example(), parser.parse_args([])) == {}
    args = parser.parse_args(["--steps", "2e3", "--rate", "0.1", "--mode", "b", "--sizes",
                              "8,16,32", "--limit", "3", "--no-flag", "--inner.width", "4"])
    assert overrides(Example(), args) == {"steps": 2000, "rate": 0.1, "mode": "b",
                                          "sizes": (8, 16, 32), "limit": 3.0, "flag": False}
    assert overrides(Inner(), args, prefix="inner.") == {"width": 4}
    assert parser.parse_args(["--limit", "none"]).limit is None
    text = parser.format_help()
    assert "(50% of the time)" in text and "--inner.width" in text


@pytest.mark.parametrize("argv", [["--mode", "c"], ["--steps", "2.5"], ["--sizes", "a,b"]])
def test_bad_values_are_refused(argv):
    with pytest.raises(argparse.ArgumentError):
        _parser().parse_args(argv)


def test_to_argv_is_the_inverse_of_overrides():
    config = Example(steps=3, sizes=(1,), limit=2.0, flag=False, mode="b", inner=Inner(width=2))
    argv = to_argv(config, Example(), nested={"inner": (Inner(), ())})
    args = _parser().parse_args(argv)
    assert dataclasses.replace(Example(), **overrides(Example(), args, skip=("inner",)),
                               inner=Inner(**overrides(Inner(), args, prefix="inner."))) == config


def test_a_field_without_documentation_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Undocumented:
        """Attributes:
          a: documented.
        """

        a: int = 1
        b: int = 2

    with pytest.raises(TypeError, match="Undocumented.b has no entry"):
        add_flags(argparse.ArgumentParser(), Undocumented())
