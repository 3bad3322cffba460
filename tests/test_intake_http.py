"""POST /feedback over real HTTP: contract, idempotency, and hostile input that must never reach
the database or produce a 500."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import payload
from tests.support.examples import examples

FUZZ = settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def test_accepts_a_response_and_answers_with_ids_category_and_department(stack):
    answer = stack.post_feedback(payload())
    assert answer.status == 202
    body = answer.body
    assert body["category"] == "detractor" and body["department"] == "support" and body["status"] == "created"
    assert isinstance(body["feedback_id"], int) and isinstance(body["case_id"], int)
    again = stack.post_feedback(payload())
    assert again.status == 202 and again.body["status"] == "unchanged"
    assert again.body["case_id"] == body["case_id"]


def test_a_wrong_or_missing_token_is_401_and_stores_nothing(stack):
    before = stack.runtime.repository.counts()
    assert stack.post_feedback(payload(), token="not-the-token").status == 401
    assert stack.post_feedback(payload(), token="").status == 401
    assert stack.runtime.repository.counts() == before


def test_bad_fields_are_each_named(stack):
    answer = stack.post_feedback(payload(score=11, survey="nps", tags="export", customer={"value": "lots"}))
    assert answer.status == 422
    assert answer.body["error"] == "invalid_feedback"
    assert set(answer.body["fields"]) == {"tags", "customer.value", "score"}
    answer = stack.post_feedback(payload(score=11))
    assert answer.body["fields"] == {"score": "must be from 0 to 10 for nps"}
    answer = stack.post_feedback(payload(survey="csat", score=0))
    assert answer.body["fields"] == {"score": "must be from 1 to 5 for csat"}


def test_an_out_of_range_score_is_named_with_the_other_bad_fields(stack):
    """Integrators fix every problem from one answer, not one per round trip."""
    answer = stack.post_feedback({"id": "r2", "survey": "nps", "score": 11, "customer": {"email": "nope"}})
    assert answer.status == 422
    assert answer.body == {
        "error": "invalid_feedback",
        "fields": {"score": "must be from 0 to 10 for nps", "customer.email": "is not an email address"},
    }
    # An unknown survey has no scale: only the survey is named, the score is not guessed at.
    answer = stack.post_feedback(payload(survey="ces-2", score=99))
    assert answer.status == 422 and set(answer.body["fields"]) == {"survey"}


def test_wrong_types_sizes_and_bodies_get_clear_4xx(stack):
    assert stack.post_feedback(payload(score="7")).status == 422
    assert stack.post_feedback(payload(score=True)).status == 422
    assert (
        stack.post_feedback(payload(comment="x" * 10_001))
        .body["fields"]["comment"]
        .startswith("String should have at most 10000")
    )
    assert stack.post_feedback(b"{not json").status == 400
    assert stack.post_feedback(b"[1, 2]").status == 422
    assert stack.post_feedback(payload(), content_type="text/plain").status == 415
    huge = json.dumps(payload(comment="x" * 300_000)).encode()
    assert stack.post_feedback(huge).status == 413
    assert stack.runtime.repository.counts() == {
        "feedback": 0,
        "cases": 0,
        "case_events": 0,
        "deliveries": 0,
    }


@FUZZ
@given(body=json_values)
def test_arbitrary_json_never_breaks_intake(stack, body):
    before = stack.runtime.repository.counts()
    answer = stack.post_feedback(body)
    assert answer.status in (202, 400, 422), answer
    if answer.status != 202:
        assert stack.runtime.repository.counts() == before
        assert answer.body["error"] in ("invalid_feedback", "invalid_json")


@FUZZ
@given(
    field=st.sampled_from(
        ["id", "survey", "score", "comment", "customer", "tags", "touchpoint", "language", "submitted_at"]
    ),
    value=json_values,
)
def test_any_field_with_any_value_is_accepted_or_named(stack, field, value):
    before = stack.runtime.repository.counts()
    answer = stack.post_feedback(payload(**{"id": "fuzz", field: value}))
    assert answer.status in (202, 422), answer
    if answer.status == 422:
        assert any(name.split(".")[0] == field for name in answer.body["fields"]), answer.body
        assert stack.runtime.repository.counts() == before


@FUZZ
@given(
    survey_and_score=st.sampled_from(["nps", "csat", "ces"]).flatmap(
        lambda s: st.tuples(
            st.just(s), st.integers({"nps": 0, "csat": 1, "ces": 1}[s], {"nps": 10, "csat": 5, "ces": 7}[s])
        )
    ),
    comment=st.one_of(st.none(), st.text(max_size=400)),
    name=st.text(st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), max_size=60),
)
def test_valid_responses_round_trip(stack, survey_and_score, comment, name):
    survey, score = survey_and_score
    answer = stack.post_feedback(
        payload(
            id=f"{survey}-{score}-{hash((comment, name))}",
            survey=survey,
            score=score,
            comment=comment,
            customer={"name": name},
        )
    )
    assert answer.status == 202, answer.body
    stored = stack.runtime.repository.feedback(answer.body["feedback_id"])
    assert stored.score == score and stored.customer_name == (name.strip() or None)
    kept = (comment or "").replace("\x00", "")  # PostgreSQL cannot store NUL; it is dropped everywhere
    assert stored.comment == (kept if kept.strip() else None)


def test_numbers_json_cannot_carry_are_refused_not_crashed_on(stack):
    base = json.dumps(payload())[:-1]
    for extra in ('"x": NaN', '"x": Infinity', '"x": -Infinity', '"x": 1e999', '"x": 1' + "0" * 5000):
        answer = stack.post_feedback(f"{base}, {extra}}}".encode())
        assert answer.status == 400 and answer.body["error"] == "invalid_json", extra
    assert stack.post_feedback(payload(id=10**300)).status == 422
    assert stack.post_feedback(payload(customer={"id": 10**300})).status == 422
    answer = stack.post_feedback(payload(submitted_at="9999-12-31T23:59:59-05:00"))
    assert answer.status == 422 and answer.body["fields"] == {"submitted_at": "is not a plausible time"}
    assert stack.runtime.repository.counts()["feedback"] == 0


@FUZZ
@given(
    # Unknown at either level: a known customer field ('email') with a wrong type is a 422, not this.
    key=st.text(min_size=1, max_size=20).filter(
        lambda k: k not in payload() and k not in payload()["customer"]
    ),
    value=json_values
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False),
    inside_customer=st.booleans(),
)
def test_unknown_keys_with_any_value_are_kept_or_refused_never_500(stack, key, value, inside_customer):
    body = payload(id=f"extra-{key}")
    (body["customer"] if inside_customer else body)[key] = value
    before = stack.runtime.repository.counts()
    answer = stack.post_feedback(body)
    assert answer.status in (202, 400), answer
    if answer.status == 400:
        assert stack.runtime.repository.counts() == before


def test_updates_keep_the_raw_fields_sent_before(stack):
    first = stack.post_feedback(payload(crm_ticket="T-1"))
    second = stack.post_feedback({"id": "resp-1", "survey": "nps", "score": 3, "nps_reason": "slow"})
    assert second.body["status"] == "updated" and second.body["case_id"] == first.body["case_id"]
    raw = stack.runtime.repository.feedback(first.body["feedback_id"]).raw
    assert (
        raw["crm_ticket"] == "T-1"
        and raw["nps_reason"] == "slow"
        and raw["customer"]["name"] == "Dana Scully"
    )
