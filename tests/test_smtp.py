"""One SMTP session for several messages: connected once, reset after a refusal, connected again after the server
went away. The server is aiosmtpd on loopback, which counts the sessions it was asked to open."""

import socket

import pytest
from aiosmtpd.controller import Controller

from portal.smtp import Connection, SendFailed, SmtpServer


class Recorder:
    """An aiosmtpd handler: one EHLO per session (the client greets once), messages kept, "refused@" refused."""

    def __init__(self):
        self.sessions, self.messages = 0, []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 (aiosmtpd's naming)
        session.host_name = hostname
        self.sessions += 1
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("refused@"):
            return "550 5.1.1 <refused@example.org>: boîte inconnue"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


class Relay:
    """The server on a port of its own, which can be stopped and started again (a restart of the relay)."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.recorder = Recorder()
        self.server = SmtpServer(host="127.0.0.1", port=port, security="plain", timeout_seconds=5)
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.server.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def relay():
    relay = Relay()
    relay.start()
    yield relay
    relay.stop()


def message(number: int) -> bytes:
    return f"Subject: Information {number}\r\nMessage-ID: <{number}@test>\r\n\r\nBonjour.\r\n".encode()


def test_messages_sent_in_turn_share_one_session(relay):
    recorder, server = relay.recorder, relay.server

    with Connection(server) as connection:
        for number in range(3):
            connection.send(message(number), sender="notices@example.org", recipients=[f"u{number}@example.org"])

    assert recorder.sessions == 1
    assert [(rcpt, content) for _from, rcpt, content in recorder.messages] == [
        ([f"u{number}@example.org"], message(number)) for number in range(3)
    ]


def test_a_refused_recipient_fails_that_message_only_and_the_session_goes_on(relay):
    recorder, server = relay.recorder, relay.server

    with Connection(server) as connection:
        with pytest.raises(SendFailed, match="550 5.1.1") as refused:
            connection.send(message(1), sender="notices@example.org", recipients=["refused@example.org"])
        connection.send(message(2), sender="notices@example.org", recipients=["u2@example.org"])

    assert refused.value.permanent
    assert recorder.sessions == 1 and [rcpt for _from, rcpt, _content in recorder.messages] == [["u2@example.org"]]


def test_a_server_gone_between_two_messages_fails_one_then_a_new_session_is_opened(relay):
    recorder, server = relay.recorder, relay.server

    with Connection(server) as connection:
        connection.send(message(1), sender="notices@example.org", recipients=["u1@example.org"])
        relay.stop()
        with pytest.raises(SendFailed, match="injoignable") as gone:
            connection.send(message(2), sender="notices@example.org", recipients=["u2@example.org"])
        relay.start()
        connection.send(message(3), sender="notices@example.org", recipients=["u3@example.org"])

    assert not gone.value.permanent  # worth trying again later
    assert recorder.sessions == 2
    assert [rcpt for _from, rcpt, _content in recorder.messages] == [["u1@example.org"], ["u3@example.org"]]
