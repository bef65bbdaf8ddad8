"""How error messages echo values: one helper for every package."""

from __future__ import annotations

import math

import numpy as np
import pytest

from highfive.generators import show


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(np.float64(0.1), "0.1", id="numpy-float"),
        pytest.param(1e308, "1e+308", id="huge-not-inf"),
        pytest.param(math.inf, "inf", id="inf"),
        pytest.param(np.int64(3), "3", id="numpy-int"),
        pytest.param((1.0, np.float32(0.5)), "[1.0, 0.5]", id="tuple-as-list"),
        pytest.param(np.array([2.0, 3.0]), "[2.0, 3.0]", id="array-as-list"),
        pytest.param(True, "True", id="bool"),
        pytest.param("cmor1.5-1.0", "'cmor1.5-1.0'", id="string"),
    ],
)
def test_values_in_messages_are_shown_for_people(value: object, shown: str) -> None:
    assert show(value) == shown


def test_huge_values_in_messages_are_cut() -> None:
    text = show("x" * 2**20)
    assert len(text) < 100 and text.endswith("(1,048,576 characters)")
    many = show(list(range(100_000)))
    assert len(many) < 100 and many.startswith("[0, 1, 2") and many.endswith("(100,000 items)]")


def test_one_escape_for_the_terminal_and_for_xml() -> None:
    import re

    from highfive.generators import escape, show_text

    text = "a\x1b[31m\u2028\ufffe b"
    assert (
        show_text(text)
        == escape(text, lambda c: not c.isprintable())
        == "a\\x1b[31m\\u2028\\ufffe b"
    )
    assert escape(text, re.compile("[\x1b]")) == "a\\x1b[31m\u2028\ufffe b"
