"""Notice texts rendered for their readers: each variant says what it must, easy-read stays easy, e-mails are safe."""

from datetime import date
from email import message_from_bytes, policy
from statistics import mean

import pytest

from notices import templating, texts
from notices.rendering import (
    EMAIL_SUBJECT,
    NoticeContent,
    Recipient,
    Sender,
    render_email,
    render_html,
    render_mssante_message,
    render_text,
)
from tests.notices.conftest import NIR

LINK = "https://portail.example.fr/o/K7QF-3MZD-9TXA-R2PW"
SENDER = Sender(
    name="EHPAD Les Tilleuls", finess="720000001", address_lines=("12 rue des Tilleuls",), postal_code="72000",
    city="Le Mans", phone="02 43 00 00 00", email="accueil@tilleuls.example.fr",
)  # fmt: skip


def content(variant: str = "usager", *, may_oppose: bool = True, body: str | None = None, **overrides) -> NoticeContent:
    values = {
        "sender": SENDER,
        "recipient": Recipient("Paul BERNARD", ("3 rue Haute",), "72000", "Le Mans"),
        "variant": variant,
        "usager_name": "Louise MARTIN",
        "body": texts.default_body(variant) if body is None else body,
        "link": LINK,
        "reference": "N-2025-000123",
        "issued_on": date(2025, 3, 14),
        "may_oppose": may_oppose,
    }
    return NoticeContent(**{**values, **overrides})


@pytest.mark.parametrize("variant", ["usager", "facile_a_lire", "representant", "parents"])
def test_every_default_text_gives_the_link_the_contact_and_the_rights(variant):
    plain = render_text(content(variant))
    assert LINK in plain and "EHPAD Les Tilleuls" in plain and "02 43 00 00 00" in plain
    assert "Mon espace santé" in plain and "34 22" in plain


@pytest.mark.parametrize("variant", ["usager", "representant", "parents"])
def test_the_full_variants_list_the_documents_and_every_right(variant):
    plain = render_text(content(variant))
    for words in (
        "dossier de liaison d'urgence", "projet personnalisé d'accompagnement", "lettres de liaison",
        "grille d'évaluation médico-sociale", "synthèse médicale", "note de vaccination",
        "motif légitime", "consultation", "Masquer un document", "bris de glace", "SAMU-Centre 15",
        "accueil@tilleuls.example.fr",
    ):  # fmt: skip
        assert words in plain, (variant, words)


def test_the_usager_variant_speaks_to_the_usager():
    plain = render_text(content("usager"))
    assert "vos documents" in plain and "Louise MARTIN" not in plain


def test_the_representative_variant_names_the_usager_and_says_the_representative_acts():
    plain = render_text(content("representant"))
    assert "Louise MARTIN" in plain
    assert "C'est vous qui exercez les droits décrits ci-dessous au nom de Louise MARTIN" in plain


def test_a_curator_copy_says_the_usager_acts_alone_and_gives_no_link():
    plain = render_text(content("representant", may_oppose=False))
    assert "Louise MARTIN exerce seul ces droits" in plain
    assert "ne vous permet pas d'agir à sa place" in plain
    assert LINK not in plain and "C'est vous qui exercez" not in plain


def test_the_parents_variant_speaks_of_the_child_and_of_each_holder_of_parental_authority():
    plain = render_text(content("parents"))
    assert "votre enfant, Louise MARTIN" in plain
    assert "l'opposition de l'un d'entre vous suffit" in plain
    assert "soins restent confidentiels" in plain


def words_per_sentence(plain: str) -> list[int]:
    return [len(sentence.split()) for sentence in templating.sentences(plain)]


@pytest.mark.parametrize("may_oppose", [True, False])
def test_the_easy_read_variant_keeps_sentences_short(may_oppose):
    easy = words_per_sentence(render_text(content("facile_a_lire", may_oppose=may_oppose)))
    full = words_per_sentence(render_text(content("usager")))
    # FALC: one idea per sentence. The full notice, a plain administrative letter, is the yardstick.
    assert mean(easy) < 8 and max(easy) <= 12
    assert mean(full) > 1.5 * mean(easy)


def test_the_easy_read_variant_uses_no_abbreviation():
    plain = render_text(content("facile_a_lire"))
    for abbreviation in ("DMP", "DLU", "PPA", "SAMU", "CSP", "L.1111"):
        assert abbreviation not in plain
    assert "dossier médical partagé" in plain


def test_field_values_cannot_add_markup_or_structure():
    hostile = content(
        "representant",
        usager_name="<img src=x onerror=alert(1)> **Gras** [lien](https://evil.example)\n\n# Titre",
        body="Pour {{ usager }} : {{ lien }}",
    )
    html = render_html(hostile)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<strong>" not in html and 'href="https://evil.example' not in html and "<h1>" not in html
    assert html.count("<p>") == 1


def test_the_html_turns_the_link_and_the_e_mail_address_into_links():
    html = render_html(content("usager"))
    assert f'<a href="{LINK}">{LINK}</a>' in html
    assert '<a href="mailto:accueil@tilleuls.example.fr">' in html
    assert "<h2>Vos droits</h2>" in html and "<li><strong>Vous opposer à la consultation de votre DMP</strong>" in html


def test_the_email_has_a_text_and_an_html_part_with_the_link_and_no_remote_content():
    message = render_email(
        content("parents"), from_addr="EHPAD Les Tilleuls <notices@tilleuls.example.fr>",
        to_addr="paul.bernard@example.org", message_id="<n-123@tilleuls.example.fr>",
    )  # fmt: skip
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parsed.iter_parts())
    plain = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert LINK in plain and f'href="{LINK}"' in html
    assert "N-2025-000123" in plain and "N-2025-000123" in html
    assert "<img" not in html and "src=" not in html and "<script" not in html
    assert parsed["Message-ID"] == "<n-123@tilleuls.example.fr>" and parsed["To"] == "paul.bernard@example.org"


def test_the_email_subject_says_nothing_of_the_person_nor_of_their_health():
    message = render_email(content("parents"), from_addr="a@b.fr", to_addr="c@d.fr", message_id="<x@b.fr>")
    assert message["Subject"] == EMAIL_SUBJECT
    for revealing in ("Louise", "MARTIN", "EHPAD", "Tilleuls", "tutelle", "enfant"):
        assert revealing.lower() not in message["Subject"].lower()


def test_the_mon_espace_sante_message_goes_to_the_ins_address_and_closes_the_conversation():
    message = render_mssante_message(
        content("usager"), from_addr="notices@tilleuls.etablissement.mssante.fr", ins_matricule="2 55 08 14 168 025 38",
        message_id="<n-124@tilleuls.etablissement.mssante.fr>", nil="PORTAIL-TEST-1",
    )  # fmt: skip
    assert message["To"] == f"{NIR}@patient.mssante.fr"
    assert message["X-MSS-MES"] == "FIN"
    assert message["X-MSS-NIL"] == "PORTAIL-TEST-1"
    assert message.get_content_type() == "multipart/alternative"


def test_the_mon_espace_sante_message_refuses_a_wrong_matricule():
    from portal.ins import InvalidMatricule

    with pytest.raises(InvalidMatricule):
        render_mssante_message(content(), from_addr="a@b.fr", ins_matricule="255081416802599", message_id="<x@b.fr>", nil="x")


def test_content_refuses_an_unknown_variant_or_a_relative_link():
    with pytest.raises(ValueError):
        content("affiche")
    with pytest.raises(ValueError):
        content(link="/o/K7QF-3MZD-9TXA-R2PW")
