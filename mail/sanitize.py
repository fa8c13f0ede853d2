"""Make mail HTML and plain text safe to serve in the sandboxed message frame.

One HTML5 parse (bleach's html5lib), then html5lib filters on that token stream: ours drops
the content of script-like elements and lifts <style> blocks out (cleaned and scoped by
css.py), bleach's allowlist sanitiser follows, and a last filter of ours rewrites every URL
attribute that survives. Nothing is ever done to the serialised HTML afterwards.

bleach keeps entities undecoded in attribute values. So our filters read a URL as a browser
would (html.unescape), check that decoded form, and write back its escaped form: what the
browser will see is exactly what was checked.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from bleach import html5lib_shim
from bleach.css_sanitizer import CSSSanitizer
from bleach.linkifier import Linker
from bleach.sanitizer import BleachSanitizerFilter

from mail import css

ROOT_CLASS = "mail-message"
ProxyUrl = Callable[[str], str]
CidUrl = Callable[[str], "str | None"]

ALLOWED_TAGS = frozenset(
    """a abbr acronym address article aside b bdi bdo big blockquote br caption center cite code col
    colgroup dd del details dfn div dl dt em figcaption figure font footer h1 h2 h3 h4 h5 h6 header hr i
    img ins kbd li main mark nav ol p pre q s samp section small span strike strong sub summary sup table
    tbody td tfoot th thead time tr tt u ul var wbr""".split()
)
# Parsed as elements (so that their raw text stays inside them) and then dropped with their content.
DROPPED_WITH_CONTENT = frozenset(
    "script title template noscript noembed noframes iframe xmp textarea select object applet".split()
)
_CELL = ["align", "valign", "bgcolor", "background", "width", "height", "colspan", "rowspan", "nowrap", "scope"]
ALLOWED_ATTRIBUTES = {
    "*": ["class", "id", "title", "lang", "dir", "align", "style"],
    "a": ["href", "name"],
    "img": ["src", "alt", "width", "height", "border", "hspace", "vspace"],
    "table": ["width", "border", "cellpadding", "cellspacing", "bgcolor", "background", "summary", "height"],
    "td": _CELL,
    "th": _CELL,
    "tr": ["valign", "bgcolor", "background", "height"],
    "col": ["span", "width", "valign"],
    "colgroup": ["span", "width", "valign"],
    "font": ["color", "face", "size"],
    "ol": ["start", "type", "reversed"],
    "ul": ["type"],
    "li": ["value", "type"],
    "hr": ["width", "size", "noshade", "color"],
    "del": ["datetime"],
    "ins": ["datetime"],
    "time": ["datetime"],
    "details": ["open"],
}
# bleach checks these first; our URL filter then applies the stricter per-attribute rules below.
BLEACH_PROTOCOLS = frozenset({"http", "https", "mailto", "cid", "data"})
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
RASTER_DATA = re.compile(r"data:image/(png|jpeg|gif|webp)(;[a-z0-9=._+-]*)*,", re.IGNORECASE)
# What browsers strip or ignore in a URL before reading its scheme.
URL_NOISE = re.compile(r"[\x00-\x20\x7f]")


@dataclass(frozen=True, slots=True)
class SanitizedHtml:
    fragment: str  # the message root element and everything in it
    remote_blocked: bool  # remote content was made inert: the UI may offer "Afficher le contenu distant"


class _Urls:
    """Where each kind of URL may point, for one rendering."""

    def __init__(self, allow_remote: bool, proxy_url: ProxyUrl | None, cid_url: CidUrl | None) -> None:
        if allow_remote and proxy_url is None:
            raise ValueError("allow_remote needs a proxy_url: remote content is only ever fetched by the portal")
        self.allow_remote = allow_remote
        self.proxy_url = proxy_url
        self.cid_url = cid_url
        self.remote_blocked = False

    def image(self, url: str) -> str | None:
        """An image or background URL to serve, or None to drop it."""
        cleaned = URL_NOISE.sub("", url)
        if cleaned.startswith("//"):
            cleaned = "https:" + cleaned
        scheme = urlsplit(cleaned).scheme.lower() if ":" in cleaned else ""
        if scheme == "cid":
            return self.cid_url(unquote(cleaned[4:])) if self.cid_url else None  # RFC 2392: percent-encoded
        if scheme == "data":
            return cleaned if RASTER_DATA.match(cleaned) else None
        if scheme in ("http", "https"):
            if self.allow_remote:
                return self.proxy_url(cleaned)
            self.remote_blocked = True
        return None


def _link(url: str) -> str | None:
    """A link target to keep (web, mail, or an anchor in the message), or None to drop it."""
    cleaned = URL_NOISE.sub("", url)
    if cleaned.startswith("#"):
        return cleaned
    scheme = urlsplit(cleaned).scheme.lower() if ":" in cleaned else ""
    return cleaned if scheme in LINK_SCHEMES else None


def _attr(value: str) -> str:
    """A decoded value back to the entity-escaped form bleach's serializer expects.

    Quotes are escaped too: bleach only handles entities right in double-quoted attributes,
    and html5lib switches to single quotes when a value holds a literal double quote.
    """
    return html.escape(value, quote=True)


class _StyleAttributes(CSSSanitizer):
    def __init__(self, urls: _Urls) -> None:
        super().__init__()
        self.urls = urls

    def sanitize_css(self, style: str) -> str:
        return _attr(css.clean_declarations(html.unescape(style), self.urls.image))


class _DropAndLiftStyles(html5lib_shim.Filter):
    """Before bleach: drop script-like elements with their content; collect <style> sheets."""

    def __init__(self, source, urls: _Urls) -> None:
        super().__init__(source)
        self.urls = urls
        self.sheets: list[str] = []

    def __iter__(self):
        dropping = 0  # depth inside an element whose content must not appear
        in_style = False
        for token in super().__iter__():
            kind = token["type"]
            name = token.get("name")
            foreign = token.get("namespace") not in (None, html5lib_shim.namespaces["html"])
            if kind in ("StartTag", "EndTag", "EmptyTag") and (name in DROPPED_WITH_CONTENT or foreign):
                dropping += {"StartTag": 1, "EndTag": -1}.get(kind, 0)
                continue
            if dropping:
                continue
            if name == "style" and kind in ("StartTag", "EndTag"):
                in_style = kind == "StartTag"
                continue
            if in_style:
                if kind in ("Characters", "SpaceCharacters"):
                    self.sheets.append(token["data"])
                continue
            yield token

    def stylesheet(self) -> str:
        return css.clean_stylesheet("".join(self.sheets), self.urls.image, f".{ROOT_CLASS}")


class _RewriteUrls(html5lib_shim.Filter):
    """After bleach: images through the proxy or cid function, links opened safely elsewhere."""

    def __init__(self, source, urls: _Urls) -> None:
        super().__init__(source)
        self.urls = urls

    def __iter__(self):
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token.get("data"):
                token["data"] = self.attributes(token["name"], token["data"])
            yield token

    def attributes(self, tag: str, attributes: dict) -> dict:
        rewritten = {}
        for key, value in attributes.items():
            name = key[1]
            if name in ("src", "background"):
                url = self.urls.image(html.unescape(value))
                if url is None:
                    continue
                value = _attr(url)
            elif name == "href":
                url = _link(html.unescape(value))
                if url is None:
                    continue
                value = _attr(url)
                if not url.startswith("#"):
                    rewritten[(None, "target")] = "_blank"
                    rewritten[(None, "rel")] = "noopener noreferrer"
                    # The real target, whatever the text or the sender's own title claims.
                    rewritten[(None, "title")] = _attr(url.removeprefix("mailto:"))
            elif name == "title" and (None, "title") in rewritten:
                continue
            rewritten[key] = value
        return rewritten


def _parser(tags: frozenset[str]) -> html5lib_shim.BleachHTMLParser:
    return html5lib_shim.BleachHTMLParser(tags=tags, strip=True, consume_entities=False, namespaceHTMLElements=False)


def _serializer() -> html5lib_shim.BleachHTMLSerializer:
    return html5lib_shim.BleachHTMLSerializer(
        quote_attr_values="always",
        omit_optional_tags=False,
        escape_lt_in_attrs=True,
        resolve_entities=False,
        sanitize=False,
        alphabetical_attributes=False,
    )


def _root(content: str, stylesheet: str = "") -> str:
    # The stylesheet never contains "<" (css.py guarantees it), so it cannot leave its element.
    style = f"<style>{stylesheet}</style>" if stylesheet else ""
    return f'<div class="{ROOT_CLASS}">{style}{content}</div>'


def sanitize_html(
    source: str,
    *,
    allow_remote: bool = False,
    proxy_url: ProxyUrl | None = None,
    cid_url: CidUrl | None = None,
) -> SanitizedHtml:
    """proxy_url(original) and cid_url(content_id) answer the URL the frame may load (None: drop it)."""
    urls = _Urls(allow_remote, proxy_url, cid_url)
    tree = _parser(ALLOWED_TAGS | DROPPED_WITH_CONTENT | {"style"}).parseFragment(source)
    lifted = _DropAndLiftStyles(html5lib_shim.getTreeWalker("etree")(tree), urls)
    stream = BleachSanitizerFilter(
        source=lifted,
        allowed_tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_protocols=BLEACH_PROTOCOLS,
        strip_disallowed_tags=True,
        strip_html_comments=True,
        css_sanitizer=_StyleAttributes(urls),
    )
    body = _serializer().render(_RewriteUrls(stream, urls))
    return SanitizedHtml(_root(body, lifted.stylesheet()), urls.remote_blocked)


def render_html(
    source: str,
    *,
    allow_remote: bool = False,
    proxy_url: ProxyUrl | None = None,
    cid_url: CidUrl | None = None,
) -> str:
    return sanitize_html(source, allow_remote=allow_remote, proxy_url=proxy_url, cid_url=cid_url).fragment


def editable(fragment: str) -> str:
    """The HTML a user wrote, back from the fragment render_html made of it: without the root element,
    so that sanitising it again (a reopened draft, saved or sent) gives that fragment, not one more level."""
    opening, closing = f'<div class="{ROOT_CLASS}">', "</div>"
    text = fragment.strip()  # a MIME text part ends with a line break
    if text.startswith(opening) and text.endswith(closing):
        return text[len(opening) : -len(closing)]
    return fragment


def _link_attributes(attrs: dict, new: bool = False) -> dict | None:
    """bleach.linkify callback: only web and mail links, opened like links in HTML mail."""
    url = _link(html.unescape(attrs.get((None, "href"), "")))
    if url is None or url.startswith("#"):
        return None
    attrs[(None, "href")] = _attr(url)
    attrs[(None, "target")] = "_blank"
    attrs[(None, "rel")] = "noopener noreferrer"
    attrs[(None, "title")] = _attr(url.removeprefix("mailto:"))
    return attrs


def render_text(text: str) -> str:
    """Plain text, escaped first and only then linkified, in the message root element."""
    linker = Linker(callbacks=[_link_attributes], skip_tags=None, parse_email=True)
    return _root(f'<div class="mail-text">{linker.linkify(html.escape(text, quote=False))}</div>')


FRAME_CSS = (
    "html,body{margin:0;padding:0;background:#fff;color:#1b1b1b}"
    "body{font:15px/1.45 system-ui,sans-serif;overflow-wrap:anywhere}"
    f".{ROOT_CLASS}{{padding:12px 16px}}"
    f".{ROOT_CLASS} img{{max-width:100%;height:auto}}"
    ".mail-text{white-space:pre-wrap}"
)


def frame_document(fragment: str) -> str:
    """The whole document the sandboxed message frame serves around a rendered fragment."""
    return (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>Message</title><style>{FRAME_CSS}</style></head><body>{fragment}</body></html>"
    )
