"""Delivery status notifications (RFC 3464) and read receipts (RFC 8098) as readable structures.

Both reports are blocks of header-like fields; mime.py extracts those blocks from the
message part (already decoded), so this module only interprets field values.
"""

from __future__ import annotations

from dataclasses import dataclass

Fields = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One recipient of a delivery status notification."""

    recipient: str
    action: str  # failed, delayed, delivered, relayed, expanded (RFC 3464 § 2.3.3)
    status: str  # enhanced status code, e.g. 5.1.1 (RFC 3463)
    diagnostic: str | None
    remote_mta: str | None
    original_recipient: str | None = None  # as the sender wrote it, when the server says so

    @property
    def failed(self) -> bool:
        return self.action == "failed"


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    reporting_mta: str | None
    original_envelope_id: str | None
    recipients: tuple[RecipientStatus, ...]


@dataclass(frozen=True, slots=True)
class ReadReceipt:
    disposition: str  # displayed, deleted, dispatched, processed (RFC 8098 § 3.2.6)
    mode: str | None  # e.g. manual-action/MDN-sent-manually
    original_message_id: str | None
    final_recipient: str | None
    reporting_ua: str | None


def _field(fields: Fields, name: str) -> str | None:
    for key, value in fields:
        if key.lower() == name:
            value = " ".join(value.split())
            return value or None
    return None


def _typed(value: str | None) -> str | None:
    """Drop the type prefix of typed fields: 'rfc822; a@b.fr' -> 'a@b.fr', 'smtp; 550 ...' -> '550 ...'."""
    if value is None:
        return None
    kind, separator, rest = value.partition(";")
    return (rest.strip() or None) if separator and " " not in kind.strip() else value


def delivery_report(blocks: list[Fields]) -> DeliveryReport:
    """The first block holds per-message fields, every other block one recipient."""
    head = blocks[0] if blocks else []
    recipients = []
    for block in blocks[1:]:
        original = _typed(_field(block, "original-recipient"))
        recipient = _typed(_field(block, "final-recipient")) or original
        if recipient is None and _field(block, "action") is None:
            continue  # an empty block left by stray blank lines
        recipients.append(
            RecipientStatus(
                recipient=(recipient or "").strip("<>"),
                action=(_field(block, "action") or "").lower(),
                status=(_field(block, "status") or "").split(" ")[0],
                diagnostic=_typed(_field(block, "diagnostic-code")),
                remote_mta=_typed(_field(block, "remote-mta")),
                original_recipient=original.strip("<>") if original else None,
            )
        )
    return DeliveryReport(
        reporting_mta=_typed(_field(head, "reporting-mta")),
        original_envelope_id=_field(head, "original-envelope-id"),
        recipients=tuple(recipients),
    )


def read_receipt(fields: Fields) -> ReadReceipt:
    """Disposition: 'manual-action/MDN-sent-manually; displayed' -> mode and disposition."""
    disposition = _field(fields, "disposition") or ""
    mode, separator, kind = disposition.partition(";")
    if not separator:
        mode, kind = "", mode
    return ReadReceipt(
        disposition=kind.strip().lower(),
        mode=mode.strip() or None,
        original_message_id=_field(fields, "original-message-id"),
        final_recipient=_typed(_field(fields, "final-recipient")),
        reporting_ua=_field(fields, "reporting-ua"),  # "host; product": both halves are useful
    )
