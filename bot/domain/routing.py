"""Which department owns a piece of feedback, and whether it becomes a case."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.policy import Policy, RoutingRule
from bot.domain.vocabulary import Category


@dataclass(frozen=True)
class RoutingInput:
    survey: str
    score: int
    category: Category
    comment: str | None
    tags: tuple[str, ...]
    touchpoint: str | None
    segment: str | None


_WORD = re.compile(r"\w+")


def rule_matches(rule: RoutingRule, item: RoutingInput) -> bool:
    """All conditions a rule states must hold; within one condition any listed value matches,
    ignoring case (the rule's values are folded once: `RoutingRule.folded`)."""
    if rule.survey and item.survey not in rule.survey:
        return False
    if rule.category and item.category not in rule.category:
        return False
    if rule.score and not rule.score.min <= item.score <= rule.score.max:
        return False
    folded = rule.folded
    if rule.tags and folded.tags.isdisjoint([tag.casefold() for tag in item.tags]):
        return False
    if rule.touchpoint and (item.touchpoint or "").casefold() not in folded.touchpoint:
        return False
    if rule.segment and (item.segment or "").casefold() not in folded.segment:
        return False
    if rule.comment_words:
        comment = (item.comment or "").casefold()
        # A single word must match a whole word; a phrase ("double charged") matches as a substring.
        if (not folded.words or folded.words.isdisjoint(_WORD.findall(comment))) and not any(
            phrase in comment for phrase in folded.phrases
        ):
            return False
    return True


def route(policy: Policy, item: RoutingInput) -> str:
    """First matching rule wins; otherwise the default department."""
    for rule in policy.routing.rules:
        if rule_matches(rule, item):
            return rule.department
    return policy.routing.default_department
