"""Survey scales and how a score maps onto detractor / passive / promoter."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.vocabulary import Category, Survey


@dataclass(frozen=True)
class Scale:
    low: int
    high: int
    # Highest score that is still a detractor, and highest that is still a passive.
    detractor_max: int
    passive_max: int
    labels: dict[Category, str]

    def classify(self, score: int) -> Category:
        if not self.low <= score <= self.high:
            raise ValueError(f"score {score} is outside {self.low}–{self.high}")
        if score <= self.detractor_max:
            return Category.DETRACTOR
        if score <= self.passive_max:
            return Category.PASSIVE
        return Category.PROMOTER


SCALES: dict[Survey, Scale] = {
    # NPS: 0–6 detractor, 7–8 passive, 9–10 promoter.
    Survey.NPS: Scale(
        0,
        10,
        6,
        8,
        {Category.DETRACTOR: "detractor", Category.PASSIVE: "passive", Category.PROMOTER: "promoter"},
    ),
    # CSAT 1–5: 1–2 unhappy, 3 neutral, 4–5 happy.
    Survey.CSAT: Scale(
        1, 5, 2, 3, {Category.DETRACTOR: "unhappy", Category.PASSIVE: "neutral", Category.PROMOTER: "happy"}
    ),
    # CES 1–7, higher = easier: 1–3 high effort, 4 neutral, 5–7 low effort.
    Survey.CES: Scale(
        1,
        7,
        3,
        4,
        {Category.DETRACTOR: "high effort", Category.PASSIVE: "neutral", Category.PROMOTER: "low effort"},
    ),
}


def classify(survey: Survey | str, score: int) -> Category:
    return SCALES[Survey(survey)].classify(score)


def score_label(survey: Survey | str, score: int) -> str:
    """'NPS 3/10' — how a score reads at a glance."""
    survey = Survey(survey)
    return f"{survey.value.upper()} {score}/{SCALES[survey].high}"


def category_label(survey: Survey | str, category: Category | str) -> str:
    """The survey's own word for a category ('unhappy' for CSAT), which staff know better."""
    return SCALES[Survey(survey)].labels[Category(category)]
