"""The case lifecycle table: every action × role × status, the guards storage reads off it, the roles
a policy gives people, and the words each refusal code is told in."""

from __future__ import annotations

import pytest

from bot.domain import lifecycle
from bot.domain.deadlines import business_hours, escalation_recipients
from bot.domain.lifecycle import TABLE, Action, Code, OwnerCondition, Refusal, Role, decide, guard
from bot.domain.records import CloseDetails
from bot.domain.vocabulary import CaseStatus
from bot.policy_file import parse_policy
from bot.slack.refusals import words
from tests.factories import case_snapshot, feedback_and_triage
from tests.support.clock import FakeClock

# The expected outcome of each action for a person with just one role, from each status
# (new, claimed, contacted, closed); "ok" is allowed. Written out by hand: this is the spec.
SHORT = {
    "members": Code.ONLY_MEMBERS,
    "members|managers": Code.ONLY_MEMBERS_OR_MANAGERS,
    "owner!": Code.ONLY_OWNER,
    "owner|manager": Code.ONLY_OWNER_OR_MANAGER,
    "responders": Code.NOT_A_RESPONDER,
    "yours": Code.ALREADY_YOURS,
    "taken": Code.OWNED_BY_SOMEONE_ELSE,
    "unclaimed": Code.NOT_CLAIMED,
    "managers": Code.ONLY_MANAGERS,
    "open": Code.STILL_OPEN,
    "closed": Code.ALREADY_CLOSED,
    "ok": None,
}
EXPECTED = """
claim               owner     members          yours            yours            closed
claim               manager   members          taken            taken            closed
claim               claimer   ok               taken            taken            closed
claim               responder members          taken            taken            closed
claim               anyone    members          taken            taken            closed
release             owner     unclaimed        ok               ok               closed
release             manager   unclaimed        owner!           owner!           closed
release             claimer   unclaimed        owner!           owner!           closed
release             responder unclaimed        owner!           owner!           closed
release             anyone    unclaimed        owner!           owner!           closed
log_contact         owner     unclaimed        ok               ok               closed
log_contact         manager   unclaimed        owner!           owner!           closed
log_contact         claimer   unclaimed        owner!           owner!           closed
log_contact         responder unclaimed        owner!           owner!           closed
log_contact         anyone    unclaimed        owner!           owner!           closed
close               owner     members|managers ok               ok               closed
close               manager   ok               ok               ok               closed
close               claimer   ok               owner|manager    owner|manager    closed
close               responder members|managers owner|manager    owner|manager    closed
close               anyone    members|managers owner|manager    owner|manager    closed
reopen              owner     open             open             open             ok
reopen              manager   open             open             open             ok
reopen              claimer   open             open             open             owner|manager
reopen              responder open             open             open             owner|manager
reopen              anyone    open             open             open             owner|manager
see_contact_details owner     ok               ok               ok               ok
see_contact_details manager   owner!           owner!           owner!           owner!
see_contact_details claimer   owner!           owner!           owner!           owner!
see_contact_details responder owner!           owner!           owner!           owner!
see_contact_details anyone    owner!           owner!           owner!           owner!
reassign            responder ok               ok               ok               closed
reassign            owner     responders       responders       responders       responders
reassign            manager   responders       responders       responders       responders
reassign            claimer   responders       responders       responders       responders
reassign            anyone    responders       responders       responders       responders
acknowledge         responder ok               ok               ok               closed
acknowledge         owner     responders       responders       responders       responders
acknowledge         manager   responders       responders       responders       responders
acknowledge         claimer   responders       responders       responders       responders
acknowledge         anyone    responders       responders       responders       responders
snooze              responder ok               ok               ok               closed
snooze              owner     responders       responders       responders       responders
snooze              manager   responders       responders       responders       responders
snooze              claimer   responders       responders       responders       responders
snooze              anyone    responders       responders       responders       responders
hand_over           owner     managers         ok               ok               closed
hand_over           manager   ok               ok               ok               closed
hand_over           claimer   managers         owner|manager    owner|manager    closed
hand_over           responder managers         owner|manager    owner|manager    closed
hand_over           anyone    managers         owner|manager    owner|manager    closed
win_back            owner     unclaimed        ok               ok               closed
win_back            manager   unclaimed        owner!           owner!           closed
win_back            claimer   unclaimed        owner!           owner!           closed
win_back            responder unclaimed        owner!           owner!           closed
win_back            anyone    unclaimed        owner!           owner!           closed
"""

CLOSE = CloseDetails(
    "resolved", "phone", "Product bug", "Workaround given", "Called.", customer_informed=True
)
STATUSES = (CaseStatus.NEW, CaseStatus.CLAIMED, CaseStatus.CONTACTED, CaseStatus.CLOSED)
CELLS = [
    (Action[action.upper()], Role(role), status, SHORT[outcome])
    for action, role, *outcomes in (line.split() for line in EXPECTED.strip().splitlines())
    for status, outcome in zip(STATUSES, outcomes, strict=True)
]


def test_the_spec_covers_every_action_role_and_status():
    assert {(a, r, s) for a, r, s, _ in CELLS} == {
        (a, r, s) for a in Action for r in Role for s in CaseStatus
    }
    assert len(CELLS) == len(Action) * len(Role) * len(CaseStatus)


@pytest.mark.parametrize(("action", "role", "status", "expected"), CELLS, ids=str)
def test_each_role_gets_the_specified_answer(action, role, status, expected):
    assert decide(action, status, frozenset({role})) == expected


@pytest.mark.parametrize(
    ("action", "status", "roles", "expected"),
    [
        # The first role the person has decides: the owner hears it is theirs, not that they
        # are not a member; a manager who also hears of escalations is told the loop is closed.
        (Action.CLAIM, CaseStatus.CLAIMED, {Role.OWNER, Role.CLAIMER}, Code.ALREADY_YOURS),
        (Action.CLOSE, CaseStatus.NEW, {Role.RESPONDER, Role.MANAGER}, None),
        (Action.CLOSE, CaseStatus.CLAIMED, {Role.CLAIMER, Role.MANAGER}, None),
        (Action.ACKNOWLEDGE, CaseStatus.CLOSED, {Role.MANAGER, Role.RESPONDER}, Code.ALREADY_CLOSED),
        (Action.RELEASE, CaseStatus.CLOSED, {Role.OWNER}, Code.ALREADY_CLOSED),
    ],
)
def test_several_roles(action, status, roles, expected):
    assert decide(action, status, frozenset(roles)) == expected


def test_every_cell_ends_with_anyone_so_nobody_goes_unanswered():
    for action, cells in TABLE.items():
        assert set(cells) == set(CaseStatus), action
        for status, cell in cells.items():
            assert cell[-1][0] is Role.ANYONE, (action, status)


@pytest.mark.parametrize(
    ("action", "statuses", "owner"),
    [
        (Action.CLAIM, {"new"}, OwnerCondition.AS_CHECKED),
        (Action.RELEASE, {"claimed", "contacted"}, OwnerCondition.ACTOR),
        (Action.LOG_CONTACT, {"claimed", "contacted"}, OwnerCondition.ACTOR),
        (Action.CLOSE, {"new", "claimed", "contacted"}, OwnerCondition.AS_CHECKED),
        (Action.REOPEN, {"closed"}, OwnerCondition.AS_CHECKED),
        (Action.REASSIGN, {"new", "claimed", "contacted"}, OwnerCondition.AS_CHECKED),
        (Action.ACKNOWLEDGE, {"new", "claimed", "contacted"}, OwnerCondition.AS_CHECKED),
        (Action.SNOOZE, {"new", "claimed", "contacted"}, OwnerCondition.AS_CHECKED),
        (Action.SEE_CONTACT_DETAILS, {"new", "claimed", "contacted", "closed"}, OwnerCondition.ACTOR),
        (Action.HAND_OVER, {"new", "claimed", "contacted"}, OwnerCondition.AS_CHECKED),
    ],
)
def test_the_guard_storage_writes_with_is_read_off_the_table(action, statuses, owner):
    assert guard(action) == lifecycle.Guard(frozenset(CaseStatus(s) for s in statuses), owner)


def test_only_refusals_about_who_asks_are_for_the_audit_trail():
    who = {code for code in Code if Refusal(code, Action.CLAIM).about_who}
    assert who == {
        Code.ONLY_OWNER,
        Code.ONLY_OWNER_OR_MANAGER,
        Code.ONLY_MEMBERS,
        Code.ONLY_MEMBERS_OR_MANAGERS,
        Code.NOT_A_RESPONDER,
        Code.ONLY_MANAGERS,
    }


# ---- roles from the policy -------------------------------------------------------------------


@pytest.fixture
def restricted(raw_policy):
    raw_policy["permissions"] = {"claim": "department"}
    return parse_policy(raw_policy, "policy.yml")


def test_roles_come_from_the_cases_department(restricted):
    case = case_snapshot(status="claimed", owner_id="U0ALICE")  # support: Alice, Bob; Maya manages
    roles = {user: lifecycle.roles_of(restricted, case, user) for user in ("U0ALICE", "U0MAYA", "U0OMAR")}
    assert roles["U0ALICE"] == {Role.OWNER, Role.CLAIMER, Role.ANYONE}
    assert roles["U0MAYA"] == {Role.MANAGER, Role.CLAIMER, Role.RESPONDER, Role.ANYONE}
    assert roles["U0OMAR"] == {Role.ANYONE}  # billing's manager
    assert lifecycle.roles_of(restricted, case, "U0CAROL") == {Role.RESPONDER, Role.ANYONE}  # second level


def test_a_department_gone_from_the_policy_is_answered_for_by_the_default_one(restricted):
    """Closing, escalations, claiming and nudges all ask `Policy.department_of`: one answer."""
    gone = case_snapshot(status="claimed", owner_id="U0ALICE", department="returns")
    assert restricted.department_of(gone).name == "support"
    assert lifecycle.refusal(restricted, gone, "U0MAYA", Action.CLOSE) is None
    assert lifecycle.refusal(restricted, gone, "U0MAYA", Action.ACKNOWLEDGE) is None
    assert restricted.claimers(gone) == {"U0ALICE", "U0BOB", "U0MAYA"}
    refused = lifecycle.refusal(restricted, gone, "U0OMAR", Action.CLOSE)
    assert refused == Refusal(Code.ONLY_OWNER_OR_MANAGER, Action.CLOSE, owner="U0ALICE")
    support = case_snapshot(status="claimed", owner_id="U0ALICE")
    assert escalation_recipients(restricted, gone, 1) == escalation_recipients(restricted, support, 1)


def test_a_department_gone_from_the_policy_keeps_the_default_ones_working_hours(raw_policy):
    raw_policy["routing"]["default_department"] = "billing"  # the one with business hours
    policy = parse_policy(raw_policy, "policy.yml")
    gone = case_snapshot(department="returns")
    hours = business_hours(policy, gone)
    assert hours is not None and hours == business_hours(policy, case_snapshot(department="billing"))


def test_a_case_goes_only_to_someone_who_may_claim_it_and_does_not_own_it(restricted):
    case = case_snapshot(status="claimed", owner_id="U0ALICE")
    assert lifecycle.reassign_refusal(restricted, case, "U0BOB") is None
    assert lifecycle.reassign_refusal(restricted, case, "U0OMAR") == Refusal(
        Code.NOT_A_MEMBER, Action.REASSIGN, owner="U0ALICE", person="U0OMAR"
    )
    assert lifecycle.reassign_refusal(restricted, case, "U0ALICE") == Refusal(
        Code.OWNED_BY_SOMEONE_ELSE, Action.REASSIGN, owner="U0ALICE"
    )


# ---- the words ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refusal", "text"),
    [
        (Refusal(Code.NOT_FOUND, Action.CLAIM), "This case no longer exists."),
        (
            Refusal(Code.CHANGED_MEANWHILE, Action.CLOSE),
            "Someone changed this case just now — please try again.",
        ),
        (Refusal(Code.ALREADY_CLOSED, Action.CLAIM), "This loop is already closed."),
        (Refusal(Code.ALREADY_CLOSED, Action.ACKNOWLEDGE), "This loop is already closed — nothing to do."),
        (Refusal(Code.ALREADY_CLOSED, Action.REASSIGN), "This loop is already closed — nothing to do."),
        (Refusal(Code.STILL_OPEN, Action.REOPEN), "This case is still open."),
        (Refusal(Code.ALREADY_YOURS, Action.CLAIM, owner="U1"), "You already own this case."),
        (Refusal(Code.OWNED_BY_SOMEONE_ELSE, Action.CLAIM, owner="U2"), "<@U2> already owns this case."),
        (Refusal(Code.NOT_CLAIMED, Action.RELEASE), "Claim the case first to release it."),
        (Refusal(Code.NOT_CLAIMED, Action.LOG_CONTACT), "Claim the case first to log a contact."),
        (Refusal(Code.ONLY_OWNER, Action.RELEASE, owner="U2"), "Only the owner, <@U2>, can release it."),
        (
            Refusal(Code.ONLY_OWNER, Action.LOG_CONTACT, owner="U2"),
            "Only the owner, <@U2>, can log a contact.",
        ),
        (
            Refusal(Code.ONLY_OWNER, Action.SEE_CONTACT_DETAILS, owner="U2"),
            "Only the case's owner can see these details.",
        ),
        (
            Refusal(Code.ONLY_OWNER_OR_MANAGER, Action.CLOSE, owner="U2"),
            "Only the owner, <@U2>, or a manager of this department can close this case.",
        ),
        (
            Refusal(Code.ONLY_OWNER_OR_MANAGER, Action.REOPEN, owner="U2"),
            "Only the owner, <@U2>, or a manager of this department can reopen this case.",
        ),
        (Refusal(Code.ONLY_MEMBERS, Action.CLAIM), "Only this department's members can claim its cases."),
        (
            Refusal(Code.ONLY_MEMBERS_OR_MANAGERS, Action.CLOSE),
            "Only this department's members or managers can close its cases.",
        ),
        (
            Refusal(Code.NOT_A_RESPONDER, Action.SNOOZE),
            "Only this department's managers (or the escalation contacts in the policy) can do that.",
        ),
        (
            Refusal(Code.NOT_A_MEMBER, Action.REASSIGN, person="U3"),
            "<@U3> is not one of this department's members in the policy.",
        ),
        (Refusal(Code.ALREADY_ACKNOWLEDGED, Action.SNOOZE, person="U4"), "<@U4> already acknowledged this."),
        (Refusal(Code.NOTHING_TO_ACKNOWLEDGE, Action.ACKNOWLEDGE), "Nothing to acknowledge."),
        (Refusal(Code.NOTHING_TO_SNOOZE, Action.SNOOZE), "Nothing to snooze."),
        (
            Refusal(Code.SNOOZE_NOT_OFFERED, Action.SNOOZE),
            "That snooze time is not offered any more — pick one from the list.",
        ),
    ],
)
def test_each_code_keeps_its_words(refusal, text):
    assert words(refusal) == text


@pytest.mark.parametrize("code", list(Code))
def test_every_code_has_words_for_every_action(code):
    for action in Action:
        text = words(Refusal(code, action, owner="U1", person="U2"))
        assert text and "None" not in text, (code, action)


# ---- storage writes with the guard ------------------------------------------------------------


def test_a_change_checked_against_an_owner_who_changed_since_is_not_written(repository, policy):
    clock = FakeClock()
    case_id = repository.record_feedback(*feedback_and_triage(policy), clock()).case_id
    assert repository.claim(case_id, "U0ALICE", clock()).applied
    # Someone reassigned or closed after seeing the case unowned: the owner is not as they saw it.
    assert not repository.reassign(case_id, "U0MAYA", "U0BOB", clock(), expected_owner=None).applied
    assert not repository.close(case_id, "U0MAYA", CLOSE, clock(), expected_owner=None).applied
    assert repository.close(case_id, "U0MAYA", CLOSE, clock(), expected_owner="U0ALICE").applied
    assert not repository.reopen(case_id, "U0MAYA", clock(), expected_owner="U0BOB").applied
    reopened = repository.reopen(case_id, "U0MAYA", clock(), expected_owner="U0ALICE")
    assert reopened.applied and reopened.case.owner_id == "U0ALICE"
    assert not repository.release(case_id, "U0MAYA", clock()).applied  # only the owner, whatever they saw
    handed = repository.reassign(case_id, "U0MAYA", "U0BOB", clock(), expected_owner="U0ALICE")
    assert handed.applied and (handed.case.owner_id, handed.case.status) == ("U0BOB", "claimed")
    assert repository.history(case_id)[-1].details == {"from": "U0ALICE", "to": "U0BOB", "step": None}
