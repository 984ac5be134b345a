"""the store's own words: document statuses, payment kinds and payment statuses move from Xero's
words to the vocabulary of connector/store/vocabulary.py (AUTHORISED -> open, ACCRECPAYMENT ->
receipt...)

Only the words this translation knows are changed; any other value is left as it is. Downgrade
translates back; SUBMITTED comes back as DRAFT (both are ``draft`` to the store), and the kinds
Xero has no word for (``credit_application``, ``refund``) and payment status ``voided`` stay as
they are.

The word lists are copied here, not imported: a migration must keep doing what it did when the
vocabulary module changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# (table, column) -> {Xero's word: the store's word}
# https://developer.xero.com/documentation/api/accounting/types#invoices
# https://developer.xero.com/documentation/api/accounting/types#payments
_UP: dict[tuple[str, str], dict[str, str]] = {
    ("document", "status"): {
        "DRAFT": "draft", "SUBMITTED": "draft", "AUTHORISED": "open", "PAID": "paid",
        "VOIDED": "voided", "DELETED": "deleted",
    },
    ("payment", "payment_type"): {
        "ACCRECPAYMENT": "receipt", "ARCREDITPAYMENT": "credit_note_refund",
        "AROVERPAYMENTPAYMENT": "overpayment_refund", "ARPREPAYMENTPAYMENT": "prepayment_refund",
    },
    ("payment", "status"): {"AUTHORISED": "posted", "DELETED": "deleted"},
}

_DOWN: dict[tuple[str, str], dict[str, str]] = {
    ("document", "status"): {
        "draft": "DRAFT", "open": "AUTHORISED", "paid": "PAID", "voided": "VOIDED",
        "deleted": "DELETED",
    },
    ("payment", "payment_type"): {
        "receipt": "ACCRECPAYMENT", "credit_note_refund": "ARCREDITPAYMENT",
        "overpayment_refund": "AROVERPAYMENTPAYMENT", "prepayment_refund": "ARPREPAYMENTPAYMENT",
    },
    ("payment", "status"): {"posted": "AUTHORISED", "deleted": "DELETED"},
}


def _translate(words: dict[tuple[str, str], dict[str, str]]) -> None:
    """One UPDATE per (table, column): a CASE over the known words, only rows holding one."""
    bind = op.get_bind()
    for (table, column), mapping in words.items():
        t = sa.table(table, sa.column(column, sa.String))
        col = t.c[column]
        bind.execute(
            t.update()
            .where(col.in_(list(mapping)))
            .values({column: sa.case(mapping, value=col)})
        )


def upgrade() -> None:
    _translate(_UP)


def downgrade() -> None:
    _translate(_DOWN)
