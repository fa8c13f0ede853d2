"""The English catalog follows the French interface: every message of the sources is translated."""

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from portal.settings import ROOT

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def source_messages() -> set[str]:
    method_map = [("portal/**.py", "python"), ("mail/**.py", "python"), ("notices/**.py", "python"), ("templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), method_map, keywords=KEYWORDS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_interface_message_has_an_english_translation():
    with open(ROOT / "portal" / "translations" / "en" / "LC_MESSAGES" / "messages.po", "rb") as file:
        catalog = read_po(file)
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog
        if m.id and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    missing = sorted(source_messages() - translated)
    assert missing == [], f"{len(missing)} messages lack an English translation: {missing[:5]}"


def test_english_interface_is_served_in_english(logged_in, professional):
    from tests.conftest import csrf_token, text

    client = logged_in(professional)
    client.post("/locale", data={"locale": "en", "csrf_token": csrf_token(client, "/"), "next": "/"})
    page = text(client.get("/"))
    assert "Your profile" in page and "Votre profil" not in page


def test_sizes_are_written_in_the_readers_language(app):
    from portal.i18n import file_size

    sizes = [628, 2_200, 1_540_000]
    with app.test_request_context():
        # French sets a narrow no-break space between a number and its unit.
        assert [file_size(size) for size in sizes] == ["628\u202fo", "2,2\u202fko", "1,5\u202fMo"]
    with app.test_request_context() as context:
        context.session["locale"] = "en"
        assert [file_size(size) for size in sizes] == ["628 byte", "2.2 kB", "1.5 MB"]
