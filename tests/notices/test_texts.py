"""The notice texts editor: versions, restoration, live preview, access by role and establishment, audit."""

import pytest
from sqlalchemy import select

from notices import texts
from notices.models import NoticeText, NoticeTextIsImmutable
from portal.models import AuditEvent, Role
from tests.conftest import csrf_token, text

EDITOR = "/usagers/notice-texts/{id}/{variant}"


def editor(establishment, variant="usager") -> str:
    return EDITOR.format(id=establishment.id, variant=variant)


def save(client, path, body, **extra):
    return client.post(path, data={"body": body, "csrf_token": csrf_token(client, path), **extra})


def versions(db, establishment, variant="usager"):
    stmt = select(NoticeText).where(NoticeText.establishment_id == establishment.id, NoticeText.variant == variant)
    return db.scalars(stmt.order_by(NoticeText.number)).all()


def test_administrator_sees_the_default_text_before_any_version(logged_in, administrator, establishment):
    client = logged_in(administrator)
    page = text(client.get("/usagers/notice-texts"))
    assert "EHPAD Les Tilleuls" in page and page.count("texte par défaut du portail") == 4
    page = text(client.get(editor(establishment, "facile_a_lire")))
    assert "Ce courrier parle de vos documents de santé." in page
    assert "Aucune version enregistrée" in page
    assert "{{ peut_agir }}" in page and "Conditions : {% if peut_agir %} … {% else %} … {% endif %}." in page


def test_each_save_adds_a_version_and_keeps_the_old_ones(db, logged_in, administrator, establishment):
    client = logged_in(administrator)
    path = editor(establishment)
    first = texts.default_body("usager").replace("Madame, Monsieur,", "Chère résidente, cher résident,")
    response = save(client, path, first)
    assert response.status_code == 302 and response.location.endswith(path)
    save(client, path, first + "\nUn paragraphe de plus.\n")

    saved = versions(db, establishment)
    assert [(v.number, v.author_label) for v in saved] == [(1, administrator.email), (2, administrator.email)]
    assert saved[0].body.startswith("Chère résidente") and "paragraphe de plus" not in saved[0].body
    page = text(client.get(path))
    assert "Version 2 du texte enregistrée." in page and "Un paragraphe de plus." in page


def test_saving_the_current_text_again_adds_no_version(db, logged_in, administrator, establishment):
    client = logged_in(administrator)
    response = save(client, editor(establishment), texts.default_body("usager").replace("\n", "\r\n"))
    assert response.status_code == 302
    assert versions(db, establishment) == []
    assert "Le texte n'a pas changé" in text(client.get(response.location))


def test_restoring_an_old_version_adds_it_back_as_a_new_version(db, logged_in, administrator, establishment):
    client = logged_in(administrator)
    path = editor(establishment, "parents")
    save(client, path, "Texte A : {{ lien }}")
    save(client, path, "Texte B : {{ lien }}")
    restore = f"{path}/versions/1/restore"
    response = client.post(restore, data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 302

    saved = versions(db, establishment, "parents")
    assert [(v.number, v.body, v.restored_from_number) for v in saved] == [
        (1, "Texte A : {{ lien }}\n", None),
        (2, "Texte B : {{ lien }}\n", None),
        (3, "Texte A : {{ lien }}\n", 1),
    ]
    page = text(client.get(path))
    assert "Version 1 restaurée : c'est la version 3." in page and "restauration de la version 1" in page


def test_an_old_version_is_shown_with_its_rendering(logged_in, administrator, establishment):
    client = logged_in(administrator)
    path = editor(establishment, "representant")
    save(client, path, "## Ancien titre\n\nPour {{ usager }} : {{ lien }}")
    page = text(client.get(f"{path}/versions/1"))
    assert "## Ancien titre" in page and "<h2>Ancien titre</h2>" in page and "Camille EXEMPLE" in page
    assert client.get(f"{path}/versions/9").status_code == 404


def test_live_preview_renders_the_posted_text_as_a_fragment(logged_in, administrator, establishment):
    client = logged_in(administrator)
    path = editor(establishment, "representant")
    body = "{% if peut_agir %}Vous agissez pour {{ usager }}.{% else %}Copie pour information.{% endif %} {{ lien }}"
    data = {"body": body, "csrf_token": csrf_token(client, path)}
    response = client.post(f"{path}/preview", data=data, headers={"HX-Request": "true"})
    fragment = text(response)
    assert "HX-Request" in response.headers["Vary"] and "<html" not in fragment
    assert "Vous agissez pour Camille EXEMPLE." in fragment
    assert 'href="http://localhost/o/K7QF-3MZD-9TXA-R2PW"' in fragment

    curator = text(
        client.post(f"{path}/preview", data={**data, "preview_curator": "y"}, headers={"HX-Request": "true"})
    )
    assert "Copie pour information." in curator and "Vous agissez" not in curator


def test_preview_without_javascript_answers_the_whole_editor(logged_in, administrator, establishment):
    client = logged_in(administrator)
    path = editor(establishment)
    response = client.post(
        f"{path}/preview", data={"body": "**Important** : {{ lien }}", "csrf_token": csrf_token(client, path)}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in page and "<strong>Important</strong>" in page
    assert "Enregistrer une nouvelle version" in page


def test_preview_escapes_what_the_text_says(logged_in, administrator, establishment):
    client = logged_in(administrator)
    path = editor(establishment)
    body = "Un texte & des <signes> : {{ lien }}"
    response = client.post(
        f"{path}/preview", data={"body": body, "csrf_token": csrf_token(client, path)}, headers={"HX-Request": "true"}
    )
    assert "balises HTML" in text(response)  # refused, never passed through
    body = "Cinq < six & sept > quatre : {{ lien }}"
    response = client.post(
        f"{path}/preview", data={"body": body, "csrf_token": csrf_token(client, path)}, headers={"HX-Request": "true"}
    )
    assert "Cinq &lt; six &amp; sept &gt; quatre" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "body, message",
    [
        ("{{ lien.__class__ }}", "seuls les champs {{ nom }} et les conditions"),
        ("{% for x in lien %}{{ x }}{% endfor %}", "seuls les champs {{ nom }} et les conditions"),
        ("{{ lien|upper }}", "seuls les champs {{ nom }} et les conditions"),
        ("Bonjour {{ prenom }} {{ lien }}", "le champ « prenom » n'existe pas"),
        ("{% if peut_agir %}Oui {{ lien }}", "est mal écrit"),
        ("<script>alert(1)</script> {{ lien }}", "ne peut pas contenir de balises HTML"),
        ("Un texte sans lien.", "doit contenir le champ {{ lien }}"),
    ],
)
def test_a_forbidden_text_is_refused_with_a_clear_error_and_kept(
    db, logged_in, administrator, establishment, body, message
):
    client = logged_in(administrator)
    response = save(client, editor(establishment), body)
    page = text(response)
    assert response.status_code == 200 and message in page
    assert body in page  # the text stays in the editor: nothing is lost
    assert versions(db, establishment) == []


def test_each_version_is_audited_without_its_text(db, logged_in, administrator, establishment):
    client = logged_in(administrator)
    save(client, editor(establishment, "facile_a_lire"), "Bonjour. Voici votre lien : {{ lien }}")
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "notices.text_saved"))
    assert (event.actor_id, event.target, event.detail) == (
        administrator.id,
        f"establishment:{establishment.id}",
        {"variant": "facile_a_lire", "version": 1, "restored_from": None},
    )
    assert "Bonjour" not in str(event.detail)


def test_reception_and_professionals_may_not_edit_texts(db, logged_in, reception, professional, establishment):
    for user in (reception, professional):
        client = logged_in(user)
        assert client.get("/usagers/notice-texts").status_code == 403
        assert client.get(editor(establishment)).status_code == 403
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    denied = db.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert len(denied) == 4


def test_administrator_of_another_establishment_gets_404(db, logged_in, make_user, establishment):
    from portal.models import Establishment

    elsewhere = Establishment(finess="690000004", name="ESAT Les Ateliers", city="Lyon")
    db.add(elsewhere)
    other_admin = make_user("admin@ateliers.test.mssante.fr", Role.ADMINISTRATOR, establishments=[elsewhere])
    client = logged_in(other_admin)
    assert client.get(editor(establishment)).status_code == 404
    assert save(client, editor(establishment), "{{ lien }}").status_code == 404
    assert (
        client.post(
            f"{editor(establishment)}/versions/1/restore", data={"csrf_token": csrf_token(client, "/")}
        ).status_code
        == 404
    )
    assert "EHPAD Les Tilleuls" not in text(client.get("/usagers/notice-texts"))
    assert versions(db, establishment) == []


def test_unknown_variant_is_not_found(logged_in, administrator, establishment):
    assert logged_in(administrator).get(editor(establishment, "affiche")).status_code == 404


def test_service_refuses_an_administrator_of_another_establishment(db, make_user, establishment):
    from portal.access import PermissionDenied

    outsider = make_user("admin@ailleurs.test.mssante.fr", Role.ADMINISTRATOR, establishments=[])
    with pytest.raises(PermissionDenied):
        texts.save_text(db, outsider, establishment, "usager", "{{ lien }}")


def test_a_notice_gets_the_default_text_as_version_1_then_the_latest_version(db, administrator, establishment):
    version = texts.version_for_notice(db, establishment.id, "parents")
    assert (version.number, version.author_id, version.author_label) == (1, None, texts.DEFAULT_AUTHOR)
    assert version.body == texts.default_body("parents")
    assert texts.version_for_notice(db, establishment.id, "parents").id == version.id

    newer = texts.save_text(db, administrator, establishment, "parents", "Nouveau : {{ lien }}")
    assert texts.version_for_notice(db, establishment.id, "parents").id == newer.id == version.id + 1


def test_versions_are_never_changed(db, administrator, establishment):
    version = texts.save_text(db, administrator, establishment, "usager", "Texte : {{ lien }}")
    version.body = "Autre chose : {{ lien }}"
    with pytest.raises(NoticeTextIsImmutable):
        db.flush()
    db.rollback()
    db.delete(db.get(NoticeText, version.id))
    with pytest.raises(NoticeTextIsImmutable):
        db.flush()
