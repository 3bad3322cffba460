"""Telling the customer what was done: who may, whether the customer may be written to, and
owing the message (storage.customer_messages); the mail worker sends it after commit.

Asked when the form opens and again when it is sent (the answers may have changed between),
and the worker checks the customer once more just before the message goes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.outer_loop import Via, contact_refusal, prefilled_note, route_of
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from bot.domain.vocabulary import CaseStatus, FollowUp, MessageStatus
from storage.customer_messages import CustomerMessages
from storage.repository import Repository

NOT_SET_UP = (
    "E-mail to customers is not set up yet: an admin sets CLOSELOOP_SMTP_URL and CLOSELOOP_MAIL_FROM "
    "(README, “Telling the customer”)."
)


@dataclass(frozen=True)
class Form:
    """What the Tell-the-customer modal opens with, or why it does not open (`refusal`)."""

    case: CaseSnapshot | None
    note: str = ""
    via: Via = "email"
    again: bool = False
    refusal: str | None = None


class TellCustomer:
    def __init__(
        self,
        *,
        store: CustomerMessages,
        repository: Repository,
        policy: Policy,
        clock: Callable[[], datetime],
        mail_configured: bool,
        name_of: Callable[[str], str],
        on_queued: Callable[[], None],
        on_changed: Callable[[int], None],
    ) -> None:
        self.store = store
        self.repository = repository
        self.policy = policy
        self.clock = clock
        self.mail_configured = mail_configured
        self.name_of = name_of  # a person's name for the template's {owner} (Slack's users.info)
        self.on_queued = on_queued  # the mail worker sends it soon
        self.on_changed = on_changed  # the case message shows it

    def _who(self, case: CaseSnapshot, user: str) -> str | None:
        managers = self.policy.department_of(case).managers
        if user in (case.owner_id, case.closed_by) or user in managers or user in self.policy.admins:
            return None
        owner = case.owner_id or case.closed_by
        return (
            f"Only <@{owner}>, who owns case #{case.id}, or a manager of its department may write "
            "to its customer."
        )

    def _refusal(self, case: CaseSnapshot, user: str, *, again: bool) -> str | None:
        if case.status != CaseStatus.CLOSED:
            return "Close the loop first: the customer is told what was done once it is done."
        who = self._who(case, user)
        if who is not None:
            return who
        refusal = contact_refusal(self.policy.outer_loop, case)
        if refusal is not None:
            return f"🚫 Not sent: {refusal.reason}"
        if route_of(self.policy.outer_loop, case.department) == "email" and not self.mail_configured:
            return NOT_SET_UP
        if case.follow_up == FollowUp.SENDING:
            return "A follow-up to this customer is on its way already."
        if case.follow_up == FollowUp.TOLD:
            return "The customer has been told already (the case's thread says when)."
        if again and case.follow_up != FollowUp.UNCERTAIN:
            return "Nothing to send again: the last follow-up's fate is known (the case's thread says it)."
        return None

    def _allowed(self, case_id: int, user: str, *, again: bool) -> CaseSnapshot | Form:
        """The case to go on with, or the refusal to show instead."""
        case = self.repository.find_case(case_id)
        if case is None:
            return Form(None, refusal="This case no longer exists.")
        refusal = self._refusal(case, user, again=again)
        return case if refusal is None else Form(case, refusal=refusal)

    def open_form(self, case_id: int, user: str, *, again: bool = False, look_up: bool = True) -> Form:
        """`look_up`: the owner's name may be asked of Slack (not on an ack's path)."""
        case = self._allowed(case_id, user, again=again)
        if isinstance(case, Form):
            return case
        via = route_of(self.policy.outer_loop, case.department)
        last = self.store.latest(case_id)
        if last is not None and last.status in (MessageStatus.UNCERTAIN, MessageStatus.FAILED):
            note = last.note  # the words already written: tried again as they were, or edited
        else:
            note = prefilled_note(self.policy.outer_loop, case, self.name_of(user) if look_up else "")
        return Form(case, note=note, via=via, again=case.follow_up == FollowUp.UNCERTAIN)

    def after_close(self, case_id: int, user: str) -> Form | None:
        """The close form's next step: the follow-up form, when the loop was just closed with
        "customer told: no" and this customer may be written to; None otherwise."""
        case = self.repository.find_case(case_id)
        if case is None or case.follow_up != FollowUp.OWED:
            return None
        form = self.open_form(case_id, user, look_up=False)  # Slack waits for this answer
        return form if form.refusal is None else None

    def send(self, case_id: int, user: str, note: str, *, again: bool = False) -> Form:
        """Owe the customer `note` (validated by the caller); `refusal` says why not."""
        case = self._allowed(case_id, user, again=again)
        if isinstance(case, Form):
            return case
        via = route_of(self.policy.outer_loop, case.department)
        queued = self.store.queue(
            case_id,
            user,
            note,
            via=via,
            to_address=case.customer_email if via == "email" else None,
            language=case.language,
            now=self.clock(),
        )
        if queued.refusal is not None:
            return Form(queued.case, refusal=queued.refusal)
        self.on_changed(case_id)
        self.on_queued()
        return Form(queued.case, note=note, via=via)

    def not_needed(self, case_id: int, user: str) -> Form:
        case = self.repository.find_case(case_id)
        if case is None:
            return Form(None, refusal="This case no longer exists.")
        who = self._who(case, user)
        if who is not None:
            return Form(case, refusal=who)
        done = self.store.not_needed(case_id, user, self.clock())
        if done.refusal is not None:
            return Form(done.case, refusal=done.refusal)
        self.on_changed(case_id)
        return Form(done.case)
