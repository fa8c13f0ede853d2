"""User administration: creation with a one-time password, edition, (de)activation, credential resets, search."""

import re

import pytest
from sqlalchemy import func, select

from portal.admin import service
from portal.models import AuditEvent, Role, User
from tests.conftest import PASSWORD, csrf_token, current_code, login, text

SECRET_RE = re.compile(r'<code class="secret">([^<]+)</code>')


def user_fields(establishment, **overrides):
    fields = {
        "last_name": "Durand",
        "first_name": "Claire",
        "email": "  Claire.Durand@Tilleuls.test.mssante.fr ",
        "national_id": "810000000025",
        "profession_code": "60",
        "roles": ["professional"],
        "establishments": [str(establishment.id)],
    }
    return {**fields, **overrides}


def post(client, path, data=None, page=None):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, page or path)})


def confirm(client, user, action):
    return post(client, f"/admin/users/{user.id}/{action}", {"confirm": "y"}, page=f"/admin/users/{user.id}")


def post_password(client, email, password):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def admin_events(db):
    stmt = select(AuditEvent).where(AuditEvent.action.startswith("admin.")).order_by(AuditEvent.id)
    return db.scalars(stmt).all()


def test_administrator_creates_user_who_enrols_at_first_login(app, db, logged_in, administrator, establishment):
    admin_client = logged_in(administrator)
    response = post(admin_client, "/admin/users/new", user_fields(establishment))
    assert response.status_code == 200
    assert "Compte créé" in text(response)
    password = SECRET_RE.search(response.get_data(as_text=True)).group(1)

    user = db.scalar(select(User).where(User.email == "claire.durand@tilleuls.test.mssante.fr"))
    assert (user.first_name, user.last_name) == ("Claire", "Durand")
    assert (user.national_id, user.profession_code) == ("810000000025", "60")
    assert user.roles == {Role.PROFESSIONAL}
    assert user.establishments == [establishment]
    assert user.totp_secret is None and user.is_active

    newcomer = app.test_client()
    response = post_password(newcomer, user.email, password)
    assert response.status_code == 302 and response.location.endswith("/login/enrol")


def test_initial_password_is_shown_once_and_kept_out_of_session_and_audit_log(
    db, client, logged_in, administrator, establishment
):
    logged_in(administrator)
    response = post(client, "/admin/users/new", user_fields(establishment))
    password = SECRET_RE.search(response.get_data(as_text=True)).group(1)
    assert len(password) >= 12
    assert response.headers["Cache-Control"] == "no-store"
    with client.session_transaction() as session:
        assert password not in repr(dict(session))
    assert all(password not in repr((e.target, e.detail)) for e in db.scalars(select(AuditEvent)))
    user = db.scalar(select(User).where(User.email == "claire.durand@tilleuls.test.mssante.fr"))
    assert password not in user.password_hash
    assert password not in text(client.get(f"/admin/users/{user.id}"))


def test_duplicate_email_is_refused_and_nothing_saved(db, logged_in, administrator, professional, establishment):
    client = logged_in(administrator)
    before = db.scalar(select(func.count(User.id)))
    data = user_fields(establishment, email=professional.email.upper(), national_id="")
    response = post(client, "/admin/users/new", data)
    assert response.status_code == 200
    assert "Un utilisateur a déjà cette adresse e-mail." in text(response)
    assert db.scalar(select(func.count(User.id))) == before
    assert admin_events(db) == []


def test_an_email_saved_by_another_administrator_meanwhile_is_refused_by_name_not_with_an_error_page(
    db, administrator, establishment, make_user, monkeypatch
):
    checked = service._refuse_duplicate_user

    def checked_before_the_other_administrator_saved(*args):
        monkeypatch.setattr(service, "_refuse_duplicate_user", checked)
        make_user("claire.durand@tilleuls.test.mssante.fr", Role.PROFESSIONAL)  # their save, committed in between

    monkeypatch.setattr(service, "_refuse_duplicate_user", checked_before_the_other_administrator_saved)
    data = service.UserData(
        email="claire.durand@tilleuls.test.mssante.fr", first_name="Claire", last_name="Durand", national_id=None,
        profession_code=None, roles=frozenset({Role.PROFESSIONAL}), establishment_ids=frozenset({establishment.id}),
    )  # fmt: skip

    with pytest.raises(service.Duplicate) as refused:
        service.create_user(db, administrator, data)

    assert refused.value.field == "email"
    assert db.scalar(select(func.count(User.id)).where(User.email == data.email)) == 1
    assert admin_events(db) == []


def test_duplicate_national_id_is_refused_and_nothing_saved(db, logged_in, administrator, professional, establishment):
    client = logged_in(administrator)
    response = post(client, "/admin/users/new", user_fields(establishment, national_id=professional.national_id))
    assert "Un utilisateur a déjà cet identifiant national." in text(response)
    assert db.scalar(select(User).where(User.email == "claire.durand@tilleuls.test.mssante.fr")) is None


@pytest.mark.parametrize(
    "national_id, accepted",
    [
        ("810000000025", True),  # "8" + RPPS (11 digits)
        ("0123456789", True),  # "0" + ADELI (9 digits)
        ("", True),  # optional
        ("10000000025", False),  # a bare RPPS, without its type digit
        ("123456789", False),  # a bare ADELI
        ("8100000000251", False),
        ("012345678", False),
        ("910000000025", False),
        ("01234567AB", False),
    ],
)
def test_national_id_must_be_8_and_rpps_or_0_and_adeli(
    db, logged_in, administrator, establishment, national_id, accepted
):
    client = logged_in(administrator)
    response = post(client, "/admin/users/new", user_fields(establishment, national_id=national_id))
    created = db.scalar(select(User).where(User.email == "claire.durand@tilleuls.test.mssante.fr"))
    assert (created is not None) == accepted
    if not accepted:
        assert "Saisissez 8 suivi des 11 chiffres du RPPS, ou 0 suivi des 9 chiffres ADELI." in text(response)


def test_user_needs_a_valid_email_one_role_and_one_establishment(db, logged_in, administrator, establishment):
    client = logged_in(administrator)
    data = user_fields(establishment, email="not an address", profession_code="12345")
    del data["roles"], data["establishments"]
    page = text(post(client, "/admin/users/new", data))
    assert "Cette adresse e-mail n'est pas valide." in page
    assert "Choisissez au moins un rôle." in page
    assert "Choisissez au moins un établissement." in page
    assert "De 1 à 4 chiffres." in page
    assert admin_events(db) == []


def test_unknown_establishment_or_role_is_refused(db, logged_in, administrator, establishment):
    client = logged_in(administrator)
    post(client, "/admin/users/new", user_fields(establishment, establishments=["999999"]))
    post(client, "/admin/users/new", user_fields(establishment, roles=["superuser"]))
    assert admin_events(db) == []


def test_administrator_updates_user_and_only_changed_fields_are_audited(
    db, logged_in, administrator, professional, stranger
):
    client = logged_in(administrator)
    elsewhere = stranger.establishments[0]
    data = user_fields(
        elsewhere,
        email=professional.email,
        first_name="Claire",
        last_name=professional.last_name,
        national_id=professional.national_id,
        profession_code=professional.profession_code,
        roles=["professional", "reception"],
    )
    data["establishments"] += [str(e.id) for e in professional.establishments]
    response = post(client, f"/admin/users/{professional.id}", data)
    assert response.status_code == 302 and response.location.endswith(f"/admin/users/{professional.id}")
    assert "est enregistré" in text(client.get(response.location))
    db.refresh(professional)
    assert professional.first_name == "Claire"
    assert professional.roles == {Role.PROFESSIONAL, Role.RECEPTION}
    assert {e.finess for e in professional.establishments} == {"720000001", "690000002"}
    [event] = admin_events(db)
    assert (event.action, event.target, event.actor_id) == ("admin.user_updated", professional.email, administrator.id)
    assert event.detail == {"fields": ["first_name", "roles", "establishments"]}


def test_edit_page_shows_the_current_values(logged_in, administrator, professional):
    page = text(logged_in(administrator).get(f"/admin/users/{professional.id}"))
    assert f'value="{professional.email}"' in page
    assert 'checked id="roles-0" name="roles" type="checkbox" value="professional"' in page
    assert "<legend>Rôles</legend>" in page and "<legend>Établissements</legend>" in page


def test_administrator_cannot_deactivate_self(db, logged_in, administrator):
    client = logged_in(administrator)
    response = confirm(client, administrator, "deactivate")
    assert response.status_code == 302
    assert "Vous ne pouvez pas désactiver votre propre compte." in text(client.get(response.location))
    db.refresh(administrator)
    assert administrator.is_active
    assert admin_events(db) == []


def test_administrator_cannot_remove_own_administrator_role(db, logged_in, administrator, establishment):
    client = logged_in(administrator)
    data = user_fields(establishment, email=administrator.email, national_id="", roles=["professional"])
    response = post(client, f"/admin/users/{administrator.id}", data)
    assert "Vous ne pouvez pas retirer votre propre rôle d'administrateur." in text(response)
    db.refresh(administrator)
    assert administrator.roles == {Role.ADMINISTRATOR}


def test_deactivation_needs_the_confirmation_box(db, logged_in, administrator, professional):
    client = logged_in(administrator)
    response = post(client, f"/admin/users/{professional.id}/deactivate", page=f"/admin/users/{professional.id}")
    assert "cochez la case de confirmation" in text(client.get(response.location))
    db.refresh(professional)
    assert professional.is_active


def test_deactivated_user_cannot_log_in_and_loses_session(app, db, logged_in, administrator, professional):
    member = app.test_client()
    login(member, professional, db)
    assert member.get("/").status_code == 200

    admin_client = logged_in(administrator)
    response = confirm(admin_client, professional, "deactivate")
    assert "est désactivé" in text(admin_client.get(response.location))

    response = member.get("/")
    assert response.status_code == 302 and response.location.endswith("/login")
    assert "Identifiants ou code incorrects." in text(post_password(member, professional.email, PASSWORD))

    post(admin_client, f"/admin/users/{professional.id}/reactivate", page=f"/admin/users/{professional.id}")
    db.refresh(professional)
    assert professional.is_active
    assert post_password(app.test_client(), professional.email, PASSWORD).location.endswith("/login/code")


def test_totp_reset_forces_reenrolment(app, db, logged_in, administrator, professional):
    admin_client = logged_in(administrator)
    professional.totp_last_step = 123
    db.commit()
    confirm(admin_client, professional, "reset-totp")
    db.refresh(professional)
    assert professional.totp_secret is None and professional.totp_last_step is None
    response = post_password(app.test_client(), professional.email, PASSWORD)
    assert response.location.endswith("/login/enrol")


def test_password_reset_shows_a_new_password_once_and_the_old_one_stops_working(
    app, db, logged_in, administrator, professional
):
    admin_client = logged_in(administrator)
    response = confirm(admin_client, professional, "reset-password")
    assert response.status_code == 200 and "Mot de passe réinitialisé" in text(response)
    password = SECRET_RE.search(response.get_data(as_text=True)).group(1)
    member = app.test_client()
    assert "Identifiants ou code incorrects." in text(post_password(member, professional.email, PASSWORD))
    assert post_password(member, professional.email, password).location.endswith("/login/code")


def logged_in_with_a_reset_password(app, db, admin_client, user):
    """(the user's own client, logged in with the password the administrator was given for them, that password)"""
    password = SECRET_RE.search(text(confirm(admin_client, user, "reset-password"))).group(1)
    member = app.test_client()
    post_password(member, user.email, password)
    user.totp_last_step = None
    db.commit()
    member.post("/login/code", data={"code": current_code(user), "csrf_token": csrf_token(member, "/login/code")})
    return member, password


def test_a_password_issued_by_an_administrator_opens_only_the_password_page_until_the_user_sets_their_own(
    app, db, logged_in, administrator, professional
):
    member, password = logged_in_with_a_reset_password(app, db, logged_in(administrator), professional)

    for page in ("/", "/usagers", "/admin/users"):
        assert member.get(page).location.endswith("/account/password"), page
    assert member.get("/", headers={"HX-Request": "true"}).headers["HX-Redirect"].endswith("/account/password")
    page = text(member.get("/account/password"))
    assert "choisissez le vôtre avant de continuer" in page and "Annuler" not in page

    token = csrf_token(member, "/account/password")
    chosen = "ma propre phrase de passe"
    member.post("/account/password", data={"current": password, "new": chosen, "confirm": chosen, "csrf_token": token})

    assert member.get("/").status_code == 200
    db.refresh(professional)
    assert not professional.password_change_required


def test_a_user_who_must_change_their_password_can_still_log_out(app, db, logged_in, administrator, professional):
    member, _password = logged_in_with_a_reset_password(app, db, logged_in(administrator), professional)

    response = member.post("/logout", data={"csrf_token": csrf_token(member, "/account/password")})

    assert response.location.endswith("/login")
    assert member.get("/account/password").location.endswith("/login")


def test_admin_actions_are_audited(db, logged_in, administrator, professional, establishment):
    client = logged_in(administrator)
    response = post(client, "/admin/users/new", user_fields(establishment))
    password = SECRET_RE.search(response.get_data(as_text=True)).group(1)
    confirm(client, professional, "deactivate")
    post(client, f"/admin/users/{professional.id}/reactivate", page=f"/admin/users/{professional.id}")
    confirm(client, professional, "reset-totp")
    confirm(client, professional, "reset-password")
    events = admin_events(db)
    assert [(e.action, e.target, e.outcome, e.actor_id) for e in events] == [
        ("admin.user_created", "claire.durand@tilleuls.test.mssante.fr", "success", administrator.id),
        ("admin.user_deactivated", professional.email, "success", administrator.id),
        ("admin.user_reactivated", professional.email, "success", administrator.id),
        ("admin.user_totp_reset", professional.email, "success", administrator.id),
        ("admin.user_password_reset", professional.email, "success", administrator.id),
    ]
    assert events[0].detail == {
        "fields": ["email", "first_name", "last_name", "national_id", "profession_code", "roles", "establishments"]
    }
    assert all(password not in repr(e.detail) for e in events)


def test_user_search_is_case_insensitive_over_name_email_and_national_id(
    logged_in, administrator, professional, reception
):
    client = logged_in(administrator)
    for query in ("INFIRMIERE", "Tilleuls.Test.MSSANTE.fr infirm", "10000000017", "test infirm"):
        page = text(client.get("/admin/users", query_string={"q": query}))
        assert professional.email in page and reception.email not in page, query
    assert "Aucun utilisateur ne correspond à votre recherche." in text(client.get("/admin/users?q=personne"))


def test_user_search_treats_wildcards_literally(logged_in, administrator, professional):
    page = text(logged_in(administrator).get("/admin/users?q=%25"))
    assert "Aucun utilisateur ne correspond à votre recherche." in page


def test_user_search_filters_active_and_deactivated_accounts(db, logged_in, administrator, professional):
    professional.is_active = False
    db.commit()
    client = logged_in(administrator)
    assert professional.email not in text(client.get("/admin/users?status=active"))
    assert professional.email in text(client.get("/admin/users?status=inactive"))
    assert administrator.email not in text(client.get("/admin/users?status=inactive"))
    assert professional.email in text(client.get("/admin/users"))


def test_user_list_pages_by_25_in_last_name_order(db, logged_in, administrator, establishment):
    # Listed only, so without the slow password hashing of make_user.
    db.add_all(
        User(email=f"u{i:02d}@tilleuls.test.mssante.fr", first_name="U", last_name=f"Nom{i:02d}") for i in range(30)
    )
    db.commit()
    client = logged_in(administrator)
    first = text(client.get("/admin/users"))
    assert "31 utilisateurs" in first and "Page 1 sur 2" in first
    assert first.index("NOM00") < first.index("NOM24") and "NOM25" not in first
    second = text(client.get("/admin/users?page=2&q=&status="))
    assert "NOM25" in second and "NOM29" in second and "NOM24" not in second
    assert "TEST Admin" not in first and "TEST Admin" in second


def test_user_search_works_as_a_plain_get_form(logged_in, administrator, professional):
    response = logged_in(administrator).get("/admin/users?q=infirm&status=active")
    page = text(response)
    assert "<!doctype html>" in page and professional.email in page
    assert 'value="infirm"' in page and 'hx-trigger="input changed delay:300ms, submit"' in page


def test_htmx_search_returns_fragment_without_layout(logged_in, administrator, professional):
    client = logged_in(administrator)
    response = client.get("/admin/users?q=infirm", headers={"HX-Request": "true"})
    page = text(response)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    assert professional.email in page and administrator.email not in page
    assert "<html" not in page and "<header" not in page and "<form" not in page


def test_htmx_history_restore_gets_the_whole_page(logged_in, administrator):
    client = logged_in(administrator)
    response = client.get("/admin/users", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<!doctype html>" in text(response)
