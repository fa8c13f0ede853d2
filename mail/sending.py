"""Handing a mailbox's outgoing message to the operator's submission server, logged in as that mailbox."""

from __future__ import annotations

from collections.abc import Sequence

from portal.settings import Settings
from portal.smtp import Connection, Notify, SendFailed, operator_server


def transmit(
    settings: Settings,
    mailbox_address: str,
    raw: bytes,
    *,
    recipients: Sequence[str],
    notify: Sequence[Notify] = (),
    envelope_id: str | None = None,
) -> bool:
    """Send `raw` from `mailbox_address`; SendFailed says why not. True when DSNs were asked for.

    The portal logs in to submission as the mailbox through the operator's master user, as it
    does to IMAP: the operator's policy (Postfix: sender login maps) still ties the envelope
    sender to that mailbox.
    """
    master = settings.imap_master_password.get_secret_value() if settings.imap_master_password else None
    server = operator_server(settings, username=f"{mailbox_address}*{settings.imap_master_user}", password=master)
    if not (settings.imap_master_user and master):
        raise SendFailed("aucun accès de la messagerie au serveur d'envoi n'est configuré (PORTAL_IMAP_MASTER_USER)")
    with Connection(server) as connection:
        return connection.send(
            raw, sender=mailbox_address, recipients=recipients, notify=notify, envelope_id=envelope_id
        )
