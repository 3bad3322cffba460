"""Reading the policy file: YAML in, a validated `Policy` out, and every problem worded for the
admin with the file, the field and the fix, all at once, so the file is fixed in one pass."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.domain.policy import Policy


class PolicyError(Exception):
    """One line per problem: '<file>: <field>: <what is wrong> — <fix>'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in ("function-after", "function-before") and not str(part).startswith("function"):
            text += f".{part}" if text else str(part)
    return text or "(top level)"


class _Context(dict[str, Any]):
    """Template values; a placeholder an error lacks stays visible instead of raising KeyError."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


# How an admin is told about each kind of pydantic error: (problem, fix) by (error type, field
# with list indexes left out); the field "" is the fallback for the type. A None problem keeps
# pydantic's own message. Templates take the error's ctx ({max_length}, {le}, …), {input},
# {length} (of the input) and {example} (the input turned into a valid name).
_WORDING: dict[tuple[str, str], tuple[str | None, str]] = {
    ("missing", ""): (None, "add it"),
    ("extra_forbidden", ""): (None, "remove it or check its spelling"),
    ("list_type", ""): (None, "write a list, e.g. [a, b]"),
    ("int_parsing", ""): (None, "write a whole number"),
    ("too_short", ""): (None, "add at least one entry"),
    ("too_long", ""): (None, "remove entries to keep at most {max_length}"),
    ("string_too_long", ""): (None, "shorten it to at most {max_length} characters"),
    ("less_than_equal", ""): (None, "use {le} or less"),
    ("greater_than_equal", ""): (None, "use {ge} or more"),
    # The only pattern in the policy is Name; pydantic would show the regex.
    ("string_pattern_mismatch", ""): (
        "{input!r} is not a valid name",
        "names are lower-case keys of at most 50 letters, digits, '-' or '_', e.g. {example}",
    ),
    # A newer closeloop's file, or a typo: either way this one cannot read it.
    ("less_than_equal", "version"): (
        "{input} is not supported",
        "this closeloop reads policy version 1; set version: 1",
    ),
    ("greater_than_equal", "version"): (
        "{input} is not supported",
        "this closeloop reads policy version 1; set version: 1",
    ),
}
for _options in ("root_causes", "remedies", "themes"):
    # Both are shown in a Slack menu (static_select): at most 100 options of 75 characters each.
    _WORDING[("string_too_long", _options)] = (
        "{length} characters, but it is shown as a Slack menu option, which takes at most {max_length}",
        "shorten it",
    )
    _WORDING[("string_too_short", _options)] = ("empty", "write the option's text, or remove the entry")
    _WORDING[("too_long", _options)] = (
        "{actual_length} entries, but they are shown in a Slack menu, which holds at most {max_length}",
        "merge or remove some",
    )


# alerts.theme_spike's numbers (bot.domain.themes.ThemeSpike).
_WORDING[("greater_than", "alerts.theme_spike.ratio")] = (
    "{input} is no rise",
    "use a ratio above 1, e.g. ratio: 3 (three times the theme's 4-week average)",
)
_WORDING[("greater_than_equal", "alerts.theme_spike.count")] = (
    "{input} is too few",
    "use a count of at least 1, e.g. count: 5",
)


def _example_name(value: object) -> str:
    """The nearest valid department name to what was written, for the fix's example."""
    text = re.sub(r"[^a-z0-9_-]+", "-", str(value).strip().lower()).strip("-_")[:50]
    return text or "support"


def _describe(error: dict[str, Any]) -> list[str]:
    where = _location(tuple(error["loc"]))
    field = re.sub(r"\[\d+\]", "", where)
    kind = error["type"]
    problem, fix = _WORDING.get((kind, field)) or _WORDING.get((kind, ""), (None, ""))
    value = error.get("input")
    context = _Context(
        error.get("ctx") or {},
        input=value,
        length=len(value) if isinstance(value, str) else "?",
        example=_example_name(value),
    )
    message = (
        str(error["msg"]).removeprefix("Value error, ") if problem is None else problem.format_map(context)
    )
    fix = fix.format_map(context)
    lines = message.split("\n") if kind == "value_error" else [message]
    result = []
    for line in lines:
        # Cross-field problems already start with their own location.
        prefix = "" if re.match(r"^[a-z_]+(\[\d+\])?[.:]", line) and where == "(top level)" else f"{where}: "
        result.append(f"{prefix}{line}" + (f" — {fix}" if fix else ""))
    return result


def parse_policy(data: Any, source: str) -> Policy:
    if not isinstance(data, dict):
        raise PolicyError(
            [f"{source}: (top level): the file must be a YAML mapping — start from bot/examples/policy.yml"]
        )
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            problems.extend(f"{source}: {line}" for line in _describe(dict(item)))
        raise PolicyError(problems) from None


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(
            [
                f"{path}: file not found — set CLOSELOOP_POLICY to the policy file's path "
                "(copy bot/examples/policy.yml to start)"
            ]
        ) from None
    except OSError as error:
        raise PolicyError([f"{path}: cannot be read ({error.strerror}) — check its permissions"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise PolicyError([f"{path}: {where}: {problem} — fix the YAML syntax there"]) from None
    return parse_policy(data, str(path))


def example_policy_path() -> Path:
    return Path(__file__).parent / "examples" / "policy.yml"
