"""The establishments' mailboxes, searched by the annuaire beside the national entries."""

from __future__ import annotations

from sqlalchemy import select

from mail.models import Mailbox, MailboxKind
from portal import database
from portal.annuaire.models import Entry
from portal.models import Establishment, User

# Built once: the annuaire asks for them at every search.
_ACTIVE = (
    select(Mailbox.address, Mailbox.kind, Mailbox.display_name, User.first_name, User.last_name, Establishment.name,
           Establishment.postal_code, Establishment.city)
    .join(Establishment, Establishment.id == Mailbox.establishment_id)
    .outerjoin(User, User.id == Mailbox.owner_id)
    .where(Mailbox.is_active, Establishment.is_active, Mailbox.kind != MailboxKind.APP)
)  # fmt: skip


def local_entries() -> list[Entry]:
    """The active nominative and organisational mailboxes of active establishments, as unsaved annuaire entries.

    Applicative mailboxes are left out: software writes from them, nobody writes to them.
    """
    return [_entry(*row) for row in database.session().execute(_ACTIVE)]


def _entry(address: str, kind: MailboxKind, display_name: str, first_name: str | None, last_name: str | None,
           establishment: str, postal_code: str, city: str) -> Entry:  # fmt: skip
    entry = Entry(address=address, bal_type=kind.value, structure_name=establishment, postal_code=postal_code,
                  city=city, department=department(postal_code))  # fmt: skip
    if kind == MailboxKind.PER and last_name:  # a professional's mailbox reads as their name
        entry.first_name, entry.last_name = first_name, last_name
    else:
        entry.service = display_name
    return entry


def department(postal_code: str) -> str:
    """The department of a French postal code, as the national files write it (2A and 2B for Corsica)."""
    if postal_code.startswith("20"):
        return "2A" if postal_code < "20200" else "2B"
    return postal_code[:3] if postal_code.startswith("97") else postal_code[:2]
