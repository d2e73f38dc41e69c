"""The message helpers every room shares (latentreel/errors.py)."""

from __future__ import annotations

import pytest

from latentreel.errors import did_you_mean


@pytest.mark.parametrize("word, options, n, expected", [
    ("hodl", ["hold", "keyframes"], 3, "did you mean 'hold'?"),
    ("smil", ["smile", "smiles", "age"], 3, "did you mean 'smile' or 'smiles'?"),
    ("abcd", ["abcd1234", "abcd1", "abcd123", "abcd12"], 3,
     "did you mean 'abcd1', 'abcd12' or 'abcd123'?"),
    ("smil", ["smile", "smiles"], 1, "did you mean 'smile'?"),
    ("zzz", ["hold", "keyframes"], 3, ""),
    ("x", [], 3, ""),
], ids=["one", "two", "three-of-four", "n=1", "none-close", "no-options"])
def test_did_you_mean_names_the_closest_options(word, options, n, expected):
    assert did_you_mean(word, options, n=n) == expected


def test_did_you_mean_takes_any_iterable_and_a_non_string_word():
    assert did_you_mean(12, {"12a": 1}) == "did you mean '12a'?"
