"""Command-line flags generated from a config dataclass: one source of truth for names, types,
defaults and help.

Every field of a frozen config dataclass becomes `--field-name` (nested configs get a prefix,
`--sac.batch-size`); its default is the field's value in a base instance (the class defaults or
a preset such as `EnsembleConfig.mbpo`), its help is the field's entry in the class docstring's
attribute list, and its type comes from the annotation:

    int, float, str            --batch-size 256, --gamma 0.99
    Literal[...]               choices
    bool                       --conv / --no-conv
    X | None                   the value, or `none`
    tuple[int, ...] (or bare)  comma-separated: --hidden-sizes 256,256

`overrides` reads back only the fields the user changed, so a preset keeps every value the
command line did not name (e.g. MBPO's per-layer weight decay follows the number of layers).
"""

import argparse
import dataclasses
import inspect
import re
import types
import typing
from typing import Any, Literal

_ENTRY = re.compile(r"^(\s*)([a-z_][a-z0-9_]*(?:(?:, |; | x | / )[a-z_][a-z0-9_]*)*): (.*)$")


def field_docs(cls) -> dict[str, str]:
    """Each field's text in the class docstring (`name: text`, or `a, b: text` for several)."""
    docs: dict[str, str] = {}
    names: list[str] = []
    indent = -1
    for line in inspect.cleandoc(cls.__doc__ or "").splitlines():
        match = _ENTRY.match(line)
        if match:
            indent = len(match.group(1))
            names = re.split(r", |; | x | / ", match.group(2))
            for name in names:
                docs[name] = match.group(3).strip()
        elif names and line.strip() and len(line) - len(line.lstrip()) > indent:
            for name in names:
                docs[name] += " " + line.strip()
        else:
            names = []
    return docs


def _unwrap_optional(hint) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _scalar_parser(kind, name: str):
    def parse(text: str):
        try:
            return kind(text) if kind is not int else _parse_int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--{name}: expected {kind.__name__}, got {text!r}") from None
    return parse


def _parse_int(text: str) -> int:
    """`20000`, `20_000` and `2e4` are the same whole number."""
    try:
        return int(text)
    except ValueError:
        number = float(text)
        if not number.is_integer():
            raise
        return int(number)


def _tuple_parser(kinds: tuple, name: str):
    def parse(text: str) -> tuple:
        parts = [p for p in text.split(",") if p.strip()] if text.strip() else []
        if kinds[-1] is not Ellipsis and len(parts) != len(kinds):
            raise argparse.ArgumentTypeError(
                f"--{name}: expected {len(kinds)} comma-separated values, got {text!r}")
        kind_of = (lambda i: kinds[0]) if kinds[-1] is Ellipsis else (lambda i: kinds[i])
        return tuple(_scalar_parser(kind_of(i), name)(p.strip()) for i, p in enumerate(parts))
    return parse


def _flag_type(hint, default, name: str) -> dict:
    """argparse keywords (type, choices, action) for one annotation."""
    hint, optional = _unwrap_optional(hint)
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if typing.get_origin(hint) is Literal:
        return {"choices": typing.get_args(hint)}
    if hint is tuple or typing.get_origin(hint) is tuple:
        kinds = typing.get_args(hint) or (type(default[0]) if default else int, ...)
        kinds = tuple(float if k is float else k for k in kinds)
        parse = _tuple_parser(kinds, name)
    elif hint in (int, float, str):
        parse = _scalar_parser(hint, name)
    else:
        raise TypeError(f"no command-line type for field {name!r} ({hint!r})")
    if optional:
        inner = parse
        parse = lambda text: None if text.lower() == "none" else inner(text)  # noqa: E731
    return {"type": parse, "metavar": _metavar(hint)}


def _metavar(hint) -> str:
    if hint is tuple or typing.get_origin(hint) is tuple:
        return "A,B,..."
    return {int: "INT", float: "FLOAT", str: "STR"}.get(hint, "VALUE")


def flag_name(prefix: str, name: str) -> str:
    return f"--{prefix}{name.replace('_', '-')}"


def add_flags(parser: argparse.ArgumentParser, base, *, skip=(), prefix: str = "",
              nested: dict | None = None) -> None:
    """Add a flag for every field of the dataclass instance `base` (its values the defaults).

    skip: field names with no flag (set by the command, e.g. `total_steps` from --steps).
    nested: field name -> (base instance, skip) for a nested config whose fields get flags
      under `name.`; a nested field not listed here (and not skipped) is refused.
    """
    cls = type(base)
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    group = parser.add_argument_group(f"{cls.__name__} ({prefix.rstrip('.') or 'options'})")
    for field in dataclasses.fields(cls):
        name = field.name
        if name in skip:
            continue
        if nested and name in nested:
            inner_base, inner_skip = nested[name]
            add_flags(parser, inner_base, skip=inner_skip, prefix=f"{prefix}{name}.")
            continue
        if name not in docs:
            raise TypeError(f"{cls.__name__}.{name} has no entry in the class docstring")
        default = getattr(base, name)
        flag = flag_name(prefix, name)
        group.add_argument(flag, dest=prefix + name, default=default,
                           help=docs[name].replace("%", "%%"),
                           **_flag_type(hints[name], default, flag[2:]))


def overrides(base, args: argparse.Namespace, *, skip=(), prefix: str = "") -> dict:
    """The fields of `base` whose flag in `args` differs from `base`'s value."""
    changed = {}
    for field in dataclasses.fields(base):
        dest = prefix + field.name
        if field.name in skip or not hasattr(args, dest):
            continue
        value = getattr(args, dest)
        if value != getattr(base, field.name):
            changed[field.name] = value
    return changed


def to_argv(config, base, *, skip=(), prefix: str = "", nested: dict | None = None) -> list[str]:
    """The flags that turn `base` into `config` (the inverse of `overrides`)."""
    argv: list[str] = []
    for field in dataclasses.fields(config):
        name = field.name
        if name in skip:
            continue
        if nested and name in nested:
            inner_base, inner_skip = nested[name]
            inner = getattr(config, name) or inner_base
            argv += to_argv(inner, inner_base, skip=inner_skip, prefix=f"{prefix}{name}.")
            continue
        value, default = getattr(config, name), getattr(base, name)
        if value == default:
            continue
        flag = flag_name(prefix, name)
        if isinstance(value, bool):
            argv.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, tuple):
            argv += [flag, ",".join(map(str, value))]
        else:
            argv += [flag, "none" if value is None else str(value)]
    return argv


__all__ = ["add_flags", "field_docs", "flag_name", "overrides", "to_argv"]
