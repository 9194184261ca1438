"""The one tag rule every record uses."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from app.tags import MAX_TAG_LENGTH, MAX_TAGS, TagError, clean_tags, normalize_tags


def test_tags_are_trimmed_and_deduplicated_ignoring_case_keeping_the_first_spelling() -> None:
    assert clean_tags(["  VIP ", "vip", "Key  account", "", "key account", "B2B"]) == [
        "VIP",
        "Key account",
        "B2B",
    ]


def test_a_comma_separated_string_is_split() -> None:
    assert clean_tags("VIP, partner,,vip") == ["VIP", "partner"]
    assert clean_tags(None) == []


@pytest.mark.parametrize(
    "value",
    [
        ["x" * (MAX_TAG_LENGTH + 1)],
        [f"tag{n}" for n in range(MAX_TAGS + 1)],
        ["bad\x00tag"],
        ["tab\tinside"],
        ["line\nbreak"],
        [5],
        {"a": 1},
        7,
    ],
)
def test_unusable_tags_are_refused(value: object) -> None:
    with pytest.raises(TagError):
        clean_tags(value)
    with pytest.raises(InvalidInput) as refusal:
        normalize_tags(value, field="labels")
    assert list(refusal.value.details) == ["labels"]


def test_limits_are_inclusive() -> None:
    assert len(clean_tags([f"t{n}" for n in range(MAX_TAGS)])) == MAX_TAGS
    assert clean_tags(["x" * MAX_TAG_LENGTH]) == ["x" * MAX_TAG_LENGTH]
