"""The notice as a PDF letter (A4, DL window envelope on the left), printed by WeasyPrint; no Flask.

render_letter(content) is a pure function of a notices.rendering.NoticeContent. The layout and its
envelope geometry are in static/css/letter.css; the page is drawn from templates/notices/documents/
letter.html: sender block at the top, recipient block in the window, place and date, subject, the
text, the addressee's link as a short readable URL and a QR code, the notice reference at the foot
of every page, page numbers when the letter runs over one page. Fonts are DejaVu, found through
fontconfig; nothing is fetched from the network: the only URLs the fetcher accepts are data: URLs
(the QR code), anything else stops the rendering.
"""

from __future__ import annotations

import segno
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from notices.rendering import NoticeContent, french_date, render_html, templates
from portal.settings import ROOT

_fonts = FontConfiguration()
# Parsed once: a batch of notices prints thousands of letters with the same stylesheet.
_stylesheet = CSS(filename=str(ROOT / "static" / "css" / "letter.css"), font_config=_fonts)
_page_numbers = CSS(
    string='@page { @bottom-right { content: "Page " counter(page) " / " counter(pages); '
    'font-family: "DejaVu Sans", sans-serif; font-size: 7pt; } }',
    font_config=_fonts,
)


def render_letter(content: NoticeContent) -> bytes:
    html = templates.get_template("notices/documents/letter.html").render(
        content=content,
        body=render_html(content),
        qr_code=qr_code_data_uri(content.link) if content.may_oppose else "",
        formatted_date=french_date(content.issued_on),
    )
    # Laid out with page numbers first: the default texts run over two pages, so most letters
    # need one pass; a one-page letter is laid out again without "Page 1 / 1".
    document = _layout(html, _stylesheet, _page_numbers)
    if len(document.pages) == 1:
        document = _layout(html, _stylesheet)
    return document.write_pdf()


def qr_code_data_uri(link: str) -> str:
    """The link as a QR code; level M survives a crease or a smudge on a folded letter.

    A PNG of one pixel a module, which letter.css enlarges without smoothing: as sharp as an SVG
    on paper, and drawn in a fraction of the time (an SVG's path was a fifth of each letter's PDF).
    """
    return segno.make(link, error="m", micro=False).png_data_uri(scale=1, border=4)


def fetcher() -> URLFetcher:
    """A fetcher that refuses every URL but data: (no network, no file), and fails the rendering if asked."""
    return URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)


def _layout(html: str, *stylesheets: CSS):
    return HTML(string=html, url_fetcher=fetcher()).render(stylesheets=list(stylesheets), font_config=_fonts)
