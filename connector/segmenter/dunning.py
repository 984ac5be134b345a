"""A segment's dunning policy: the tone, the channel and the reminder cadence of its customers.

A rules file may give each segment a ``dunning:`` section (validated in
:mod:`arconnect.segmenter.rules`, guide in ``docs/segments.md`` §8): a tone, a channel and
``steps``, each an action taken once the customer's *oldest* open overdue item is
``after_days`` days past due. This module owns what a policy says for one customer: the step it
has reached, the step after it and how many days away that is (:func:`dunning_status`), in
words (:func:`status_words`) and as JSON (:func:`dunning_doc`). It never reads the store.

Platform ids (a NetSuite dunning procedure, a Xero reminder template) are not part of a policy:
they belong in a platform's mapping, so the same rules serve every ERP. The export carries the
policy and the customer's step so that the ERP's own reminders or a mail tool can act on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

__all__ = ["CHANNELS", "TONES", "DunningPolicy", "DunningStatus", "DunningStep",
           "dunning_doc", "dunning_status", "status_words"]

# The words a policy may use, gentlest first; docs/segments.md §8 says what each means.
TONES = ("friendly", "neutral", "firm", "final")
Tone = Literal["friendly", "neutral", "firm", "final"]
CHANNELS = ("email", "phone", "letter", "sms", "portal")
Channel = Literal["email", "phone", "letter", "sms", "portal"]


@dataclass(frozen=True)
class DunningStep:
    """One step of the cadence: ``action`` once the oldest overdue item is ``after_days``
    days past due, by ``channel`` in ``tone`` (the policy's unless the step says otherwise)."""

    after_days: int
    action: str
    channel: str
    tone: str

    def words(self) -> str:
        """``Call the accounts payable contact (phone, firm)``."""
        return f"{self.action} ({self.channel}, {self.tone})"


@dataclass(frozen=True)
class DunningPolicy:
    """A segment's dunning policy; ``steps`` in strictly ascending ``after_days``."""

    tone: str
    channel: str
    steps: tuple[DunningStep, ...]


@dataclass(frozen=True)
class DunningStatus:
    """Where one customer stands in its segment's cadence.

    Attributes:
        days_overdue: days past due of the customer's oldest open overdue item (0: none).
        number: the 1-based number of the step reached (0: none reached yet).
        step: the step reached, i.e. the last one whose ``after_days`` ≤ ``days_overdue``.
        next: the step after it (``None``: the last step is reached, or nothing is overdue).
        days_to_next: days until ``next`` is reached, if the oldest item stays unpaid.
    """

    days_overdue: int
    number: int
    step: DunningStep | None
    next: DunningStep | None
    days_to_next: int | None


def dunning_status(policy: DunningPolicy, days_overdue: int) -> DunningStatus:
    """The step ``policy`` has reached for a customer whose oldest open overdue item is
    ``days_overdue`` days past due. Nothing overdue (0 or less) reaches no step and waits for
    none: a reminder cadence starts only once an item is overdue."""
    days = max(int(days_overdue), 0)
    if days == 0:
        return DunningStatus(0, 0, None, None, None)
    number = sum(1 for s in policy.steps if s.after_days <= days)
    step = policy.steps[number - 1] if number else None
    nxt = policy.steps[number] if number < len(policy.steps) else None
    return DunningStatus(days, number, step, nxt,
                         nxt.after_days - days if nxt is not None else None)


def status_words(status: DunningStatus, run_date: date | None = None) -> str:
    """The step in words, for a credit controller: ``Call the accounts payable contact
    (phone, firm) since day 15; next: Stop supply (letter, final) on day 45, in 9 days
    (2026-12-12)``. With ``run_date`` the next step's date is given too."""
    if status.days_overdue == 0:
        return "nothing overdue"

    def when(days: int) -> str:
        on = f" ({(run_date + timedelta(days=days)).isoformat()})" if run_date else ""
        return f"in {days} day{'s' if days != 1 else ''}{on}"

    if status.step is None:
        assert status.next is not None and status.days_to_next is not None
        return (f"no step yet; first: {status.next.words()} on day "
                f"{status.next.after_days}, {when(status.days_to_next)}")
    head = f"{status.step.words()} since day {status.step.after_days}"
    if status.next is None or status.days_to_next is None:
        return f"{head}; the last step"
    return (f"{head}; next: {status.next.words()} on day {status.next.after_days}, "
            f"{when(status.days_to_next)}")


def _step_doc(step: DunningStep) -> dict[str, Any]:
    return {"after_days": step.after_days, "action": step.action, "channel": step.channel,
            "tone": step.tone}


def dunning_doc(policy: DunningPolicy | None, days_overdue: int) -> dict[str, Any] | None:
    """A policy and one customer's place in it, as the export's ``dunning`` object (``None``
    when the segment has no policy): ``tone``, ``channel``, ``steps``, ``days_overdue``,
    ``step`` (the step reached, with its ``number``; ``null`` before the first) and ``next``
    (the step after it, with ``number`` and ``in_days``; ``null`` after the last), and
    ``next_step``, the same in words (:func:`status_words`)."""
    if policy is None:
        return None
    status = dunning_status(policy, days_overdue)
    return {
        "tone": policy.tone, "channel": policy.channel,
        "steps": [_step_doc(s) for s in policy.steps],
        "days_overdue": status.days_overdue,
        "step": ({"number": status.number, **_step_doc(status.step)}
                 if status.step is not None else None),
        "next": ({"number": status.number + 1, **_step_doc(status.next),
                  "in_days": status.days_to_next} if status.next is not None else None),
        "next_step": status_words(status),
    }
