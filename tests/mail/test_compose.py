"""Messages built from what the user wrote: MSSanté headers, HTML through the sanitiser, replies and forwards."""

import email
from email.policy import default

from mail import compose, mdn
from mail.compose import Draft, Part, Sender
from mail.mime import parse_message
from tests.mail.conftest import message

SENDER = Sender("infirmiere@tilleuls.test.mssante.fr", "Infirmière Test")
PDF = b"%PDF-1.4\n" + bytes(range(256))


def built(draft: Draft) -> email.message.EmailMessage:
    raw = compose.wire(compose.build(draft, SENDER, product_reference="REF-PRODUIT"))
    return email.message_from_bytes(raw, policy=default)


def test_every_message_carries_the_product_reference_an_id_and_utf8_text():
    sent = built(Draft(to=("medecin@ch.mssante.fr",), subject="Été", body="Première ligne\r\nSeconde"))
    assert sent["X-MSS-NIL"] == "REF-PRODUIT"
    assert sent["Message-ID"].endswith("@tilleuls.test.mssante.fr>")
    assert str(sent["From"]) == "Infirmière Test <infirmiere@tilleuls.test.mssante.fr>"
    body = sent.get_body(("plain",))
    assert body.get_content_charset() == "utf-8" and body.get_content().replace("\r\n", "\n") == "Première ligne\nSeconde\n"
    assert "X-MSS-MES" not in sent and "Disposition-Notification-To" not in sent


def test_closing_the_conversation_marks_only_messages_to_a_patient():
    patient = "255081416802538@patient.mssante.fr"
    assert built(Draft(to=(patient,), closed_to_replies=True))["X-MSS-MES"] == "FIN"
    assert "X-MSS-MES" not in built(Draft(to=("medecin@ch.mssante.fr",), closed_to_replies=True))


def test_html_mode_goes_through_the_sanitiser_with_a_text_alternative():
    sent = built(Draft(body='<p onclick="x()">Bonjour <b>Paul</b><script>alert(1)</script></p>', html=True))
    html = sent.get_body(("html",)).get_content()
    assert "<b>Paul</b>" in html and "script" not in html and "onclick" not in html
    assert sent.get_body(("plain",)).get_content().strip() == "Bonjour Paul"


def test_a_saved_draft_reopens_as_written_with_its_files_byte_for_byte():
    draft = Draft(to=("a@ch.mssante.fr",), cc=("b@ch.mssante.fr",), subject="Suivi", body="Texte\n", read_receipt=True,
                  attachments=(Part("bilan.pdf", "application/pdf", PDF),), in_reply_to="<x@ch>", references=("<x@ch>",),
                  message_id="<draft@tilleuls.test.mssante.fr>")  # fmt: skip
    again = compose.draft_of(compose.wire(compose.build(draft, SENDER, product_reference="R")))
    assert again == draft and again.message_id == draft.message_id



def test_an_html_draft_reopened_and_saved_again_keeps_its_html_as_it_was():
    written = "<style>p { color: #036 }</style><p>Bonjour <b>Paul</b></p><ul><li>bilan</li></ul>"
    first = built(Draft(body=written, html=True)).get_body(("html",)).get_content()

    saved = compose.wire(compose.build(Draft(body=written, html=True), SENDER, product_reference="R"))
    reopened = compose.draft_of(saved)
    again = built(reopened).get_body(("html",)).get_content()

    assert reopened.html and not reopened.body.startswith('<div class="mail-message">')
    assert again == first and again.count('class="mail-message"') == 1

def test_reply_all_quotes_threads_and_leaves_out_the_own_address():
    original = parse_message(message("Question", sender="Dr Paul <paul@ch.mssante.fr>",
                                     to=f"{SENDER.address}, cadre@ch.mssante.fr", body="Ligne 1\nLigne 2"))  # fmt: skip
    answer = compose.reply(original, SENDER.address, everyone=True, attribution="Paul a écrit :")
    assert answer.to == ("paul@ch.mssante.fr",) and answer.cc == ("cadre@ch.mssante.fr",)
    assert answer.subject == "Re: Question" and answer.body.endswith("Paul a écrit :\n> Ligne 1\n> Ligne 2")
    assert answer.in_reply_to == original.message_id and answer.references == (original.message_id,)
    assert compose.reply(original, SENDER.address, everyone=False, attribution="").cc == ()


def test_forward_inline_keeps_the_files_and_as_attachment_keeps_the_whole_message():
    raw = message("Résultats", attachment=PDF)
    original = parse_message(raw)
    inline = compose.forward(original, raw, as_attachment=False, header="-- transféré --")
    assert inline.subject == "Fwd: Résultats" and "-- transféré --\n\nTexte du message." in inline.body
    assert [(p.filename, p.data) for p in inline.attachments] == [("compte-rendu.pdf", PDF)]
    attached = compose.forward(original, raw, as_attachment=True, header="")
    sent = built(attached)
    [part] = sent.iter_attachments()
    assert part.get_content_type() == "message/rfc822"
    assert parse_message(part.get_content().as_bytes()).attachments[0].data == PDF


def test_read_receipt_names_a_long_message_id_exactly_in_its_thread_headers():
    long_id = f"<{'1' * 12}.{'2' * 5}.{'3' * 20}@tilleuls.test.mssante.fr>"  # beyond 78 columns once named
    original = parse_message(
        b"From: infirmiere@tilleuls.test.mssante.fr\r\nTo: medecin@tilleuls.test.mssante.fr\r\n"
        b"Disposition-Notification-To: infirmiere@tilleuls.test.mssante.fr\r\n"
        b"Message-ID: " + long_id.encode() + b"\r\nSubject: CR\r\n\r\nTexte\r\n"
    )
    raw = mdn.read_receipt(original, "medecin@tilleuls.test.mssante.fr", "Médecin", "Accusé de lecture", "Lu.")

    receipt = email.message_from_bytes(raw, policy=default)
    assert (receipt["In-Reply-To"], receipt["References"]) == (long_id, long_id)
    assert parse_message(raw).read_receipt.original_message_id == long_id
