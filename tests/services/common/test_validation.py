"""Edge validation: bad text is refused as INVALID_ARGUMENT naming the field, before it reaches a store."""

from __future__ import annotations

import pytest

from services.catalog.domain import search_query
from services.common import errors


@pytest.mark.parametrize("value", ["a\x00b", "\x00", "name\x00"])
def test_text_with_nul_is_refused_naming_the_field(value: str) -> None:
    with pytest.raises(errors.InvalidArgument, match="must not contain NUL"):
        errors.require_text(value, "display_name", max_len=100)


def test_email_with_nul_is_refused() -> None:
    with pytest.raises(errors.InvalidArgument):
        errors.require_email("a\x00b@example.com", "email")
    assert errors.require_email("  Ada@Example.com ", "email") == "ada@example.com"


def test_search_query_is_validated_like_any_text() -> None:
    with pytest.raises(errors.InvalidArgument, match="must not contain NUL"):
        search_query("a\x00b")
    with pytest.raises(errors.InvalidArgument, match="is required"):
        search_query("   ")
    assert search_query(" backpack ") == "backpack"
