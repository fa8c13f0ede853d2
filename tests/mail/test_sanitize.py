"""The sanitiser neutralises XSS and privacy-leak vectors, judged on the re-parsed output."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import tinycss2
from bleach._vendor import html5lib  # the HTML5 parser bleach ships: re-parse as a browser would

from mail.sanitize import ROOT_CLASS, frame_document, render_html, render_text, sanitize_html
from tests.mail.xss_vectors import TEXT_VECTORS, XSS_VECTORS

HTML_NS = "{http://www.w3.org/1999/xhtml}"
PROXY = "/mail/remote?u="
CID = "/mail/part/"
FORBIDDEN_ELEMENTS = {
    "script",
    "iframe",
    "object",
    "embed",
    "applet",
    "form",
    "input",
    "button",
    "select",
    "textarea",
    "link",
    "base",
    "svg",
    "math",
    "video",
    "audio",
    "source",
    "picture",
    "template",
    "noscript",
    "frame",
    "frameset",
}
URL_NOISE = re.compile(r"[\x00-\x20\x7f]")
RASTER = re.compile(r"data:image/(png|jpeg|gif|webp)[;,]")


def proxy_url(original: str) -> str:
    return f"{PROXY}{quote(original, safe='')}&sig=0f"


def cid_url(content_id: str) -> str:
    return f"{CID}{quote(content_id, safe='')}"


def parse(document: str):
    return html5lib.parse(document, treebuilder="etree", namespaceHTMLElements=True)


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def css_urls_and_problems(css: str, declarations: bool) -> tuple[list[str], list[str]]:
    """Every URL a browser could load from this CSS, and any construct we never let through."""
    urls, problems = [], []

    def walk(tokens):
        for token in tokens:
            kind = getattr(token, "type", None)
            if kind == "url":
                urls.append(token.value)
            elif kind == "function":
                if token.lower_name == "url":
                    urls.extend(t.value for t in token.arguments if t.type == "string")
                elif token.lower_name in ("expression", "var", "image-set", "-webkit-image-set", "env", "attr"):
                    problems.append(f"css function {token.lower_name}")
                walk(token.arguments)
            elif kind == "at-rule":
                if token.lower_at_keyword == "import" or (
                    token.lower_at_keyword == "font-face" and "url" in tinycss2.serialize(token.content or [])
                ):
                    problems.append(f"@{token.lower_at_keyword}")
                walk(token.prelude)
                walk(tinycss2.parse_blocks_contents(token.content or []) if token.content else [])
            elif kind == "qualified-rule":
                walk(token.prelude)
                walk(tinycss2.parse_blocks_contents(token.content))
            elif kind == "declaration":
                if token.lower_name in ("behavior", "-moz-binding"):
                    problems.append(f"css property {token.lower_name}")
                if token.lower_name == "position" and tinycss2.serialize(token.value).strip().lower() in (
                    "fixed",
                    "sticky",
                ):
                    problems.append("position fixed/sticky")
                walk(token.value)
            elif hasattr(token, "content") and isinstance(token.content, list):
                walk(token.content)

    walk(tinycss2.parse_declaration_list(css) if declarations else tinycss2.parse_stylesheet(css))
    return urls, problems


def loadable(url: str, allow_remote: bool) -> bool:
    return url.startswith(CID) or bool(RASTER.match(url)) or (allow_remote and url.startswith(PROXY))


def problems_in(document: str, allow_remote: bool) -> list[str]:
    """What a browser would find dangerous or leaky in a served frame document."""
    problems = []
    root = parse(document)
    for element in root.iter():
        name = local(element.tag)
        if not isinstance(element.tag, str):
            continue
        if not element.tag.startswith(HTML_NS) or name in FORBIDDEN_ELEMENTS:
            problems.append(f"element {element.tag}")
        if name == "meta" and element.get("http-equiv"):
            problems.append("meta http-equiv")
        for attribute, value in element.attrib.items():
            attribute = local(attribute).lower()
            normalised = URL_NOISE.sub("", value).lower()
            if attribute.startswith("on"):
                problems.append(f"event handler {attribute}")
            if normalised.startswith(("javascript:", "vbscript:")):
                problems.append(f"script URL in {name}@{attribute}")
            if normalised.startswith("data:") and not (
                name == "img" and attribute == "src" and RASTER.match(normalised)
            ):
                problems.append(f"data URL in {name}@{attribute}")
            if attribute in ("src", "background", "poster", "srcset", "lowsrc", "dynsrc", "data", "ping", "action"):
                if not loadable(value, allow_remote):
                    problems.append(f"loadable {name}@{attribute}={value!r}")
            if attribute == "style":
                urls, css_problems = css_urls_and_problems(value, declarations=True)
                problems += css_problems + [f"css url {u!r}" for u in urls if not loadable(u, allow_remote)]
        if name == "style":
            urls, css_problems = css_urls_and_problems(element.text or "", declarations=False)
            problems += css_problems + [f"css url {u!r}" for u in urls if not loadable(u, allow_remote)]
    return problems


@pytest.mark.parametrize("allow_remote", [False, True], ids=["remote-blocked", "remote-allowed"])
@pytest.mark.parametrize("vector", XSS_VECTORS, ids=[v.label for v in XSS_VECTORS])
def test_vector_is_neutralised(vector, allow_remote):
    fragment = render_html(vector.html, allow_remote=allow_remote, proxy_url=proxy_url, cid_url=cid_url)
    assert problems_in(frame_document(fragment), allow_remote) == []
    if not allow_remote:
        assert "evil.test" not in fragment


@pytest.mark.parametrize("vector", TEXT_VECTORS, ids=[v.label for v in TEXT_VECTORS])
def test_plain_text_vector_is_escaped_and_only_safe_links_made(vector):
    document = frame_document(render_text(vector.html))
    assert problems_in(document, allow_remote=False) == []
    for link in parse(document).iter(f"{HTML_NS}a"):
        assert link.get("href").split(":")[0] in ("http", "https", "mailto")


def test_text_keeps_markup_as_visible_text():
    root = parse(render_text('"><script>alert(1)</script>'))
    assert "".join(root.itertext()) == '"><script>alert(1)</script>'


def test_text_links_web_and_mail_addresses():
    root = parse(render_text("Voir https://example.org/a?b=1&c=2 ou écrire à contact@example.org"))
    links = {a.get("href"): a for a in root.iter(f"{HTML_NS}a")}
    assert set(links) == {"https://example.org/a?b=1&c=2", "mailto:contact@example.org"}
    assert all(a.get("target") == "_blank" and a.get("rel") == "noopener noreferrer" for a in links.values())
    assert links["mailto:contact@example.org"].get("title") == "contact@example.org"


def test_links_open_elsewhere_and_show_their_real_target():
    fragment = render_html('<a href="https://phish.example/login" title="Votre banque">https://banque.example</a>')
    (link,) = parse(fragment).iter(f"{HTML_NS}a")
    assert link.get("target") == "_blank"
    assert link.get("rel") == "noopener noreferrer"
    assert link.get("title") == "https://phish.example/login"


def test_anchor_links_inside_the_message_are_kept():
    (link,) = parse(render_html('<a href="#section">x</a>')).iter(f"{HTML_NS}a")
    assert link.get("href") == "#section" and link.get("target") is None


def test_remote_image_is_blocked_and_reported():
    result = sanitize_html('<p>Bonjour</p><img src="https://tracker.example/p.gif" alt="logo">')
    assert result.remote_blocked
    (image,) = parse(result.fragment).iter(f"{HTML_NS}img")
    assert image.get("src") is None and image.get("alt") == "logo"


def test_message_without_remote_content_reports_nothing_blocked():
    assert not sanitize_html('<p>Bonjour</p><img src="cid:logo">', cid_url=cid_url).remote_blocked


def test_remote_image_goes_through_the_proxy_when_allowed():
    result = sanitize_html('<img src="https://img.example/a.png?x=1&amp;y=2">', allow_remote=True, proxy_url=proxy_url)
    (image,) = parse(result.fragment).iter(f"{HTML_NS}img")
    assert image.get("src") == proxy_url("https://img.example/a.png?x=1&y=2")
    assert not result.remote_blocked


def test_remote_css_background_goes_through_the_proxy_when_allowed():
    fragment = render_html(
        '<p style="background:url(http://img.example/b.png)">x</p>', allow_remote=True, proxy_url=proxy_url
    )
    (cell,) = [e for e in parse(fragment).iter() if e.get("style")]
    urls, _ = css_urls_and_problems(cell.get("style"), declarations=True)
    assert urls == [proxy_url("http://img.example/b.png")]


def test_allowing_remote_content_requires_a_proxy():
    with pytest.raises(ValueError):
        sanitize_html("<p>x</p>", allow_remote=True)


def test_cid_image_is_served_through_the_caller_function():
    (image,) = parse(render_html('<img src="cid:image001.png@01D0">', cid_url=cid_url)).iter(f"{HTML_NS}img")
    assert image.get("src") == cid_url("image001.png@01D0")


def test_cid_image_without_a_cid_function_is_dropped():
    (image,) = parse(render_html('<img src="cid:logo">')).iter(f"{HTML_NS}img")
    assert image.get("src") is None


def test_raster_data_image_is_kept():
    source = "data:image/png;base64,iVBORw0KGgo="
    (image,) = parse(render_html(f'<img src="{source}">')).iter(f"{HTML_NS}img")
    assert image.get("src") == source


def test_style_block_is_scoped_under_the_message_root():
    fragment = render_html("<style>body{margin:0} p, .x{color:red} html > body > table{width:100%}</style><p>x</p>")
    (style,) = parse(fragment).iter(f"{HTML_NS}style")
    selectors = [tinycss2.serialize(rule.prelude).strip() for rule in tinycss2.parse_stylesheet(style.text, True, True)]
    assert selectors == [f".{ROOT_CLASS}", f".{ROOT_CLASS} p, .{ROOT_CLASS} .x", f".{ROOT_CLASS} > table"]


def test_content_of_script_like_elements_is_not_shown():
    root = parse(render_html("<title>Newsletter</title><script>var a = 1;</script><p>Bonjour</p>"))
    assert "".join(root.itertext()).strip() == "Bonjour"


def test_frame_document_declares_doctype_charset_and_root():
    document = frame_document(render_html("<p>Bonjour</p>"))
    assert document.startswith("<!doctype html>")
    root = parse(document)
    assert root.find(f".//{HTML_NS}meta[@charset='utf-8']") is not None
    assert root.find(f".//{HTML_NS}div[@class='{ROOT_CLASS}']/{HTML_NS}p").text == "Bonjour"
