"""The language of notice texts: a little Markdown with {{ fields }} and {% if %}, checked, then rendered.

What an administrator writes (and what a NoticeText version stores):

- paragraphs separated by a blank line; `## Title` lines; `- item` bullet lists (`1.` numbered);
  `**bold**` for the words that matter; web and e-mail addresses become links by themselves;
- fields, written `{{ name }}`, from FIELDS: the establishment, the usager, the addressee's link...;
- conditions `{% if name %} ... {% else %} ... {% endif %}` (with `not`, `and`, `or`) on those fields,
  e.g. `{% if peut_agir %}` for what only an addressee who may oppose reads (a curator gets a copy
  for information and may not act).

Nothing else: no HTML (the text is shown in web pages and e-mails, so it is refused, not filtered),
no filters, loops, attribute access or calls. The template runs in Jinja's sandbox all the same.
Rendering escapes everything: the HTML comes from markdown-it with raw HTML off, and field values
are escaped for Markdown so that a name cannot add structure. No Flask here: letters and e-mails
are rendered by workers too.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup

# The fields a text may use, in the order the editor lists them.
FIELDS = ("etablissement", "usager", "lien", "telephone", "courriel", "peut_agir")
# A text that does not give the addressee's link would leave them no way to act on line.
REQUIRED_FIELDS = ("lien",)
MAX_LENGTH = 20_000

_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.If,
    nodes.Not,
    nodes.And,
    nodes.Or,
)
_HTML_TAG = re.compile(r"</?[A-Za-z!?]")  # as an HTML parser sees a tag: no space after <
# Characters that would let a value start emphasis, a link, a title or code, or be linkified (":"
# and "@" split the text where linkify looks); the link and the contact e-mail are not escaped:
# they must become links, and the portal shapes them.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~:@])")

_environment = SandboxedEnvironment(
    autoescape=False,  # the output is Markdown source, escaped when turned into HTML
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_markdown = MarkdownIt("zero", {"html": False, "linkify": True}).enable(
    ["heading", "list", "emphasis", "escape", "newline", "linkify"]
)
_markdown.linkify.set({"fuzzy_link": False})  # "monespacesante.fr" alone stays text; write https://


class TextError(ValueError):
    """A text the portal refuses. `reason` is one of: too_long, html, syntax, construct, unknown_field,
    missing_field; `line` (1-based, when known) and `name` (a field) say where and what."""

    def __init__(self, reason: str, *, line: int | None = None, name: str = "", detail: str = ""):
        super().__init__(f"{reason} line={line} name={name} {detail}".strip())
        self.reason = reason
        self.line = line
        self.name = name
        self.detail = detail


@dataclass(frozen=True)
class Values:
    """What the fields of a text stand for in one notice."""

    etablissement: str
    usager: str
    lien: str
    telephone: str = ""
    courriel: str = ""
    peut_agir: bool = True


def check(body: str) -> None:
    """Raise TextError unless the body is a text the portal accepts."""
    _compiled(body)


def render(body: str, values: Values) -> str:
    """The text's Markdown with the values in place."""
    context = asdict(values)
    for name in ("etablissement", "usager", "telephone"):
        context[name] = _escape(context[name])
    for name in ("lien", "courriel"):
        context[name] = " ".join(context[name].split())
    return _compiled(body).render(context)


def to_html(markdown: str) -> Markup:
    """Escaped HTML: titles, paragraphs, lists, bold, and links made from the addresses written."""
    html = _markdown.render(markdown)
    return Markup(html)  # markdown-it escapes every character of the source; raw HTML is off


def to_text(markdown: str) -> str:
    """Plain text for e-mails and checks: paragraphs and list items, one blank line between blocks."""
    blocks: list[str] = []
    lists: list[list] = []  # per open list: [ordered, next number]
    list_block: int | None = None  # the block that holds the items of the outermost open list
    prefix = ""
    for token in _markdown.parse(markdown):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            lists.append([token.type == "ordered_list_open", int(token.attrs.get("start", 1) or 1)])
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            list_block = list_block if lists else None
        elif token.type == "list_item_open":
            ordered, number = lists[-1]
            prefix = "  " * (len(lists) - 1) + (f"{number}. " if ordered else "- ")
            lists[-1][1] += 1
        elif token.type == "inline":
            content = _inline_text(token.children or [])
            if prefix:
                content = prefix + content.replace("\n", "\n" + " " * len(prefix))
                prefix = ""
            if lists and list_block is not None:
                blocks[list_block] += "\n" + content
            else:
                blocks.append(content)
                list_block = len(blocks) - 1 if lists else None
    return "\n\n".join(blocks) + "\n"


def sentences(text: str) -> list[str]:
    """The sentences of a plain text, for readability measures: ended by . ! ? : ; or a line's end."""
    pieces = re.split(r"(?<=[.!?:;])\s+|\n+", text)
    return [piece.strip() for piece in pieces if re.search(r"\w", piece)]


@lru_cache(maxsize=64)
def _compiled(body: str):
    # Cached: a batch of notices renders the same few versions thousands of times.
    if len(body) > MAX_LENGTH:
        raise TextError("too_long", detail=str(MAX_LENGTH))
    for number, line in enumerate(body.splitlines(), start=1):
        if _HTML_TAG.search(line):
            raise TextError("html", line=number)
    try:
        tree = _environment.parse(body)
    except TemplateSyntaxError as error:
        raise TextError("syntax", line=error.lineno, detail=error.message or "") from None
    used = set()
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            raise TextError("construct", line=node.lineno, detail=type(node).__name__)
        if isinstance(node, nodes.Name):
            if node.ctx != "load" or node.name not in FIELDS:
                raise TextError("unknown_field", line=node.lineno, name=node.name)
            used.add(node.name)
    for name in REQUIRED_FIELDS:
        if name not in used:
            raise TextError("missing_field", name=name)
    return _environment.from_string(tree)


def _escape(value: str) -> str:
    value = " ".join(value.split())  # a value never breaks a line, so never starts a list or a title
    return _MARKDOWN_SPECIAL.sub(r"\\\1", value)


def _inline_text(children) -> str:
    parts = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)
