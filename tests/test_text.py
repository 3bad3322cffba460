"""Escaping and cutting customer text for Slack."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.slack.text import duration, escape, escaped_excerpt

# After escaping, no '<' or '>' may remain: they are what make <!channel>, <@U1> and <url|label> live.
LIVE_ENTITY = re.compile(r"[<>]")


def test_mentions_and_links_are_made_harmless():
    assert escape("<!channel> hi <@U123> <https://evil|Invoice> & co") == (
        "&lt;!channel&gt; hi &lt;@U123&gt; &lt;https://evil|Invoice&gt; &amp; co"
    )


@given(st.text(max_size=300))
def test_escaped_text_has_no_control_characters_left(text):
    escaped = escape(text)
    assert not LIVE_ENTITY.search(escaped)
    assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text


@given(st.text(alphabet="<>&ab \n", max_size=600), st.integers(min_value=80, max_value=400))
def test_excerpts_fit_never_split_an_entity_and_say_they_were_cut(text, limit):
    excerpt = escaped_excerpt(text, limit)
    assert len(excerpt) <= limit
    assert not LIVE_ENTITY.search(excerpt)
    body = excerpt.split("… [cut:")[0]
    assert not re.search(r"&(?!amp;|lt;|gt;)", body)  # every & starts a whole entity
    if len(escape(text)) > limit:
        assert "characters shown]" in excerpt
    else:
        assert excerpt == escape(text)


def test_durations_read_naturally():
    assert duration(30) == "under a minute"
    assert duration(14 * 60) == "14 min"
    assert duration(2 * 3600 + 14 * 60) == "2 h 14 min"
    assert duration(3 * 86400 + 3600) == "3 d 1 h"
