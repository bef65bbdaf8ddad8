"""Argument types shared by the command line's subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from highfive.generators import number_from_text, whole_number_from_text

__all__ = ["int_at_least", "int_between", "number_arg", "path_arg", "whole_number"]


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting whole numbers >= ``minimum`` (usage error otherwise),
    written in ASCII digits with an optional sign (:func:`whole_number_from_text`: ``int``
    alone would also take ``1_000``, ``' 7 '`` and other scripts' digits)."""

    def parse(text: str) -> int:
        value = whole_number_from_text(text)
        if value is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} must be >= {minimum}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def int_between(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting whole numbers from ``minimum`` to ``maximum``."""
    at_least = int_at_least(minimum)

    def parse(text: str) -> int:
        value = at_least(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{value} must be <= {maximum:,}")
        return value

    parse.__name__ = f"integer from {minimum} to {maximum}"
    return parse


def whole_number(what: str, example: int) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number of ``what`` in ASCII digits (usage error
    otherwise, ``'1e9' is not a whole number of cases, e.g. 100000``); its range is
    checked where the option's other errors are, in the option's own words."""

    def parse(text: str) -> int:
        value = whole_number_from_text(text)
        if value is None:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number of {what}, e.g. {example}"
            )
        return value

    parse.__name__ = f"whole number of {what}"
    return parse


def number_arg(example: float) -> Callable[[str], float]:
    """An argparse ``type`` for a number as :func:`number_from_text` reads one (usage
    error otherwise, ``'wide' is not a number, e.g. 0.002``); its range is checked with
    the option's other errors."""

    def parse(text: str) -> float:
        value = number_from_text(text)
        if value is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number, e.g. {example}")
        return value

    parse.__name__ = "number"
    return parse


def path_arg(text: str) -> Path:
    """An argparse ``type`` for a file or folder: an empty string is a usage error
    (``Path("")`` is ``.``, which a message would then show as the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is an empty path; give a file or folder name")
    return Path(text)


path_arg.__name__ = "path"
