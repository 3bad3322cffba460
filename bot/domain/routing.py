"""Which department owns a piece of feedback, and whether it becomes a case."""

from __future__ import annotations

import re
from collections.abc import Iterable
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


def _words(text: str | None) -> set[str]:
    return set(re.findall(r"\w+", (text or "").casefold()))


def _any_in(wanted: Iterable[str], have: Iterable[str]) -> bool:
    have_folded = {h.casefold() for h in have}
    return any(w.casefold() in have_folded for w in wanted)


def rule_matches(rule: RoutingRule, item: RoutingInput) -> bool:
    """All conditions a rule states must hold; within one condition any listed value matches."""
    if rule.survey and item.survey not in rule.survey:
        return False
    if rule.category and item.category not in rule.category:
        return False
    if rule.score and not rule.score.min <= item.score <= rule.score.max:
        return False
    if rule.tags and not _any_in(rule.tags, item.tags):
        return False
    if rule.touchpoint and not _any_in(rule.touchpoint, [item.touchpoint or ""]):
        return False
    if rule.segment and not _any_in(rule.segment, [item.segment or ""]):
        return False
    if rule.comment_words:
        words = _words(item.comment)
        folded = (item.comment or "").casefold()
        # A single word must match a whole word; a phrase ("double charged") matches as a substring.
        if not any(
            (w.casefold() in words) if " " not in w else (w.casefold() in folded) for w in rule.comment_words
        ):
            return False
    return True


def route(policy: Policy, item: RoutingInput) -> str:
    """First matching rule wins; otherwise the default department."""
    for rule in policy.routing.rules:
        if rule_matches(rule, item):
            return rule.department
    return policy.routing.default_department
