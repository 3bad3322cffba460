"""The pure domain: classification and routing (the case lifecycle: test_lifecycle.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.routing import RoutingInput, route
from bot.domain.scoring import SCALES, category_label, classify, score_label
from bot.domain.vocabulary import Category


@pytest.mark.parametrize(
    ("survey", "score", "expected"),
    [
        ("nps", 0, "detractor"),
        ("nps", 6, "detractor"),
        ("nps", 7, "passive"),
        ("nps", 8, "passive"),
        ("nps", 9, "promoter"),
        ("nps", 10, "promoter"),
        ("csat", 1, "detractor"),
        ("csat", 2, "detractor"),
        ("csat", 3, "passive"),
        ("csat", 4, "promoter"),
        ("ces", 3, "detractor"),
        ("ces", 4, "passive"),
        ("ces", 5, "promoter"),
        ("ces", 7, "promoter"),
    ],
)
def test_classification_follows_each_surveys_scale(survey, score, expected):
    assert classify(survey, score) == expected


@given(st.sampled_from(list(SCALES)), st.integers(-50, 50))
def test_scores_outside_the_scale_are_refused(survey, score):
    scale = SCALES[survey]
    if scale.low <= score <= scale.high:
        assert classify(survey, score) in set(Category)
    else:
        with pytest.raises(ValueError):
            classify(survey, score)


def test_labels_use_the_surveys_own_words():
    assert score_label("csat", 2) == "CSAT 2/5"
    assert category_label("csat", "detractor") == "unhappy"
    assert category_label("ces", "detractor") == "high effort"


def item(**kw) -> RoutingInput:
    base = {
        "survey": "nps",
        "score": 3,
        "category": Category.DETRACTOR,
        "comment": None,
        "tags": (),
        "touchpoint": None,
        "segment": None,
    }
    return RoutingInput(**{**base, **kw})


def test_first_matching_rule_wins_and_default_catches_the_rest(policy):
    assert route(policy, item(comment="I was double charged on my invoice")) == "billing"
    assert route(policy, item(comment="Invoices", tags=("bug",))) == "product"  # 'invoices' is not 'invoice'
    assert route(policy, item(touchpoint="Checkout")) == "billing"
    assert route(policy, item(tags=("BUG",))) == "product"
    assert route(policy, item(comment="slow app")) == "support"


def test_comment_words_match_whole_words_only(policy):
    assert route(policy, item(comment="priceless service")) == "support"
    assert route(policy, item(comment="the price went up")) == "billing"


def test_all_conditions_of_a_rule_must_hold(policy):
    restricted = policy.model_copy(deep=True)
    rule = restricted.routing.rules[2].model_copy(update={"category": [Category.PASSIVE]})
    restricted = restricted.model_copy(
        update={"routing": restricted.routing.model_copy(update={"rules": [rule]})}
    )
    assert route(restricted, item(tags=("bug",))) == "support"
    assert route(restricted, item(tags=("bug",), category=Category.PASSIVE, score=7)) == "product"
