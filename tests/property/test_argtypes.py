"""The command line's whole-number arguments: ASCII digits with an optional sign only.

``int`` reads ``'١٢'`` (Arabic-Indic digits) as 12, ``'０'`` (full-width) as 0, and
``'1_000'`` and ``' 7 '`` too; a case id, a seed or a count on the command line is
written in ASCII digits, and anything else is a usage error.
"""

from __future__ import annotations

import argparse
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from highfive.harness import int_at_least, int_between, whole_number

_ASCII = re.compile(r"[+-]?[0-9]+")


# Texts near a number: digits of every script, signs, underscores, spaces; and any text.
_NEAR = st.text(st.characters(categories=("Nd",)) | st.sampled_from("+-_ 0123456789"))


@given(_NEAR.filter(bool) | st.text(max_size=12), st.integers(-3, 3))
def test_a_whole_number_is_read_from_ascii_digits_alone(text: str, minimum: int) -> None:
    parse = int_at_least(minimum)
    if _ASCII.fullmatch(text) and int(text) >= minimum:
        assert parse(text) == int(text)
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


@given(st.integers(0, 10**30))
def test_every_number_written_in_ascii_digits_reads_back(n: int) -> None:
    assert int_at_least(0)(str(n)) == n
    assert int_at_least(0)(f"+{n}") == n
    assert int_between(0, 10**30)(str(n)) == n


@pytest.mark.parametrize("text", ["١٢", "０", "1_000", " 7", "7\n", "0x10", "1e3", "12.0"])
def test_what_int_alone_would_read_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(f"{text!r} is not an integer")):
        int_at_least(0)(text)


@pytest.mark.parametrize("text", ["1_000", " 7", "١٢", "1e3"])
def test_a_whole_number_of_something_is_read_by_the_same_rule(text: str) -> None:
    """``--cases 1_000`` was read as 1000 while ``--seed 1_000`` was refused."""
    with pytest.raises(argparse.ArgumentTypeError, match="is not a whole number of cases"):
        whole_number("cases", 1024)(text)
    assert whole_number("cases", 1024)("1000") == 1000
