"""The PDF letter, read back with poppler as a post office and a reader would: window, link, QR code, reference."""

import shutil
import subprocess
from pathlib import Path

import pytest

from notices import letters
from tests.notices.test_rendering import LINK, content

pytestmark = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("zbarimg")),
    reason="poppler-utils and zbar-tools are installed by scripts/test-services",
)
MM = 72 / 25.4  # pdftotext crops in points at its default 72 dpi
# The part of the sheet a DL window envelope (window 45 x 100 mm, 20 mm from the left, 15 mm
# from the bottom) shows whichever way the folded sheet shifts in it: see static/css/letter.css.
WINDOW = {"x": 20, "y": 50, "W": 90, "H": 34}


def pdf_text(path: Path, *options: str) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", *options, str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def window_text(path: Path) -> str:
    crop = []
    for name, millimetres in WINDOW.items():
        crop += [f"-{name}", str(round(millimetres * MM))]
    return pdf_text(path, "-f", "1", "-l", "1", *crop)


@pytest.fixture()
def letter(tmp_path):
    def render(variant="usager", **overrides) -> Path:
        path = tmp_path / f"{variant}.pdf"
        path.write_bytes(letters.render_letter(content(variant, **overrides)))
        return path

    return render


def test_the_recipient_address_shows_through_the_envelope_window(letter):
    path = letter("representant")
    window = [line.strip() for line in window_text(path).splitlines() if line.strip()]
    assert window == ["Paul BERNARD", "3 rue Haute", "72000 LE MANS"]


def test_the_window_shows_the_recipient_only(letter):
    window = window_text(letter("usager"))
    assert "EHPAD Les Tilleuls" not in window and "14 mars 2025" not in window and "Objet" not in window


def test_a_six_line_address_still_fits_the_window(letter):
    from notices.rendering import Recipient

    recipient = Recipient(
        "Madame Jeanne LEFEBVRE-DUPONT",
        ("Résidence Les Lilas", "Bâtiment B, chambre 12", "1 rue des Lilas"),
        "72000",
        "Le Mans",
    )
    window = [line.strip() for line in window_text(letter(recipient=recipient)).splitlines() if line.strip()]
    assert window == [
        "Madame Jeanne LEFEBVRE-DUPONT",
        "Résidence Les Lilas",
        "Bâtiment B, chambre 12",
        "1 rue des Lilas",
        "72000 LE MANS",
    ]


def test_the_letter_gives_sender_date_subject_link_and_reference(letter):
    page = pdf_text(letter("parents"))
    assert "EHPAD Les Tilleuls" in page and "FINESS 720000001" in page
    assert "Le Mans, le 14 mars 2025" in page
    assert "Objet : Information sur les documents de santé de votre enfant, Louise MARTIN" in page
    assert "portail.example.fr/o/K7QF-3MZD-9TXA-R2PW" in page  # the short form printed to be typed
    assert page.count("Réf. N-2025-000123") >= 2  # at the foot of every page


def test_the_qr_code_decodes_to_the_addressee_link(letter, tmp_path):
    path = letter("usager")
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "page")], check=True)
    decoded = set()
    for image in sorted(tmp_path.glob("page*.png")):
        result = subprocess.run(["zbarimg", "--raw", "-q", str(image)], capture_output=True, text=True)
        decoded |= set(result.stdout.split())
    assert decoded == {LINK}


def test_a_curator_copy_has_no_link_nor_qr_code(letter):
    words = " ".join(pdf_text(letter("representant", may_oppose=False)).split())
    assert "K7QF-3MZD-9TXA-R2PW" not in words and "Louise MARTIN exerce seul ces droits" in words


def test_pages_are_numbered_only_when_the_letter_runs_over_one_page(letter):
    long = pdf_text(letter("usager"))
    assert "Page 1 / 2" in long and "Page 2 / 2" in long
    short = pdf_text(letter("usager", body="Madame, Monsieur,\n\nVotre lien : {{ lien }}\n"))
    assert "\f" not in short.rstrip("\f") and "Page 1" not in short


def test_the_letter_uses_the_local_dejavu_fonts_only(letter):
    fonts = subprocess.run(
        ["pdffonts", str(letter("facile_a_lire"))], check=True, capture_output=True, text=True
    ).stdout
    names = [line.split()[0] for line in fonts.splitlines()[2:]]
    assert names and all("DejaVu" in name for name in names)


@pytest.mark.parametrize("url", ["https://example.org/logo.png", "http://127.0.0.1/x.css", "file:///etc/passwd"])
def test_rendering_fetches_nothing_but_data_urls(url):
    with pytest.raises(ValueError):
        letters.fetcher()(url)
    assert letters.fetcher()(letters.qr_code_data_uri(LINK)).read().startswith(b"\x89PNG")
