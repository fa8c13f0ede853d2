"""Sanitise mail CSS with tinycss2: style attributes, and style sheets scoped to the message root.

Everything is decided on parsed tokens, so CSS escapes and comments (`ex\\pression`,
`u\\rl(`, `e/**/xpression`) are seen the way a browser sees them. Properties and functions are
allowlisted; every url() goes through the caller's `resolve_url`, which answers the URL to
serve or None to drop the declaration. Output never contains "<", so it can never close the
<style> element it is served in.
"""

from __future__ import annotations

from collections.abc import Callable

import tinycss2
from tinycss2 import ast
from tinycss2.serializer import serialize_string_value

ResolveUrl = Callable[[str], "str | None"]

_BOX = ("margin", "padding", "border")
_SIDES = ("", "-top", "-right", "-bottom", "-left")
ALLOWED_PROPERTIES = frozenset(
    {f"{box}{side}" for box in _BOX for side in _SIDES}
    | {f"border{side}-{what}" for side in _SIDES for what in ("color", "style", "width")}
    | {f"border-{corner}-radius" for corner in ("top-left", "top-right", "bottom-left", "bottom-right")}
    | {
        "background",
        "background-color",
        "background-image",
        "background-position",
        "background-repeat",
        "background-size",
        "border-collapse",
        "border-radius",
        "border-spacing",
        "bottom",
        "box-shadow",
        "box-sizing",
        "caption-side",
        "clear",
        "color",
        "column-count",
        "column-gap",
        "direction",
        "display",
        "empty-cells",
        "float",
        "font",
        "font-family",
        "font-size",
        "font-style",
        "font-variant",
        "font-weight",
        "height",
        "left",
        "letter-spacing",
        "line-height",
        "list-style",
        "list-style-image",
        "list-style-position",
        "list-style-type",
        "max-height",
        "max-width",
        "min-height",
        "min-width",
        "opacity",
        "outline",
        "outline-color",
        "outline-style",
        "outline-width",
        "overflow",
        "overflow-wrap",
        "overflow-x",
        "overflow-y",
        "position",
        "right",
        "table-layout",
        "text-align",
        "text-decoration",
        "text-decoration-color",
        "text-decoration-line",
        "text-decoration-style",
        "text-indent",
        "text-overflow",
        "text-shadow",
        "text-transform",
        "top",
        "unicode-bidi",
        "vertical-align",
        "visibility",
        "white-space",
        "width",
        "word-break",
        "word-spacing",
        "word-wrap",
        "z-index",
    }
)
# No var(), env(), attr(), image-set(), element(), expression(): each can fetch or smuggle a URL.
ALLOWED_FUNCTIONS = frozenset(
    {
        "rgb",
        "rgba",
        "hsl",
        "hsla",
        "calc",
        "min",
        "max",
        "clamp",
        "linear-gradient",
        "radial-gradient",
        "repeating-linear-gradient",
        "repeating-radial-gradient",
        "local",
        "format",
    }
)
FONT_FACE_PROPERTIES = frozenset({"font-family", "src", "font-weight", "font-style", "unicode-range", "font-display"})
# position: fixed/sticky would pin a fake banner over the reading pane.
FORBIDDEN_VALUES = {"position": {"fixed", "sticky", "-webkit-sticky"}}
ROOT_SELECTORS = frozenset({"html", "body"})


def _url(value: str, resolve_url: ResolveUrl) -> str | None:
    resolved = resolve_url(value)
    return None if resolved is None else f'url("{serialize_string_value(resolved)}")'


def _value(tokens: list, resolve_url: ResolveUrl) -> str | None:
    """The value re-serialised from allowed tokens only, or None if anything is not allowed."""
    out = []
    for token in tokens:
        if token.type == "comment":
            out.append(" ")  # a comment separates tokens; dropping it must not glue them together
        elif token.type == "url":
            url = _url(token.value, resolve_url)
            if url is None:
                return None
            out.append(url)
        elif token.type == "function":
            if token.lower_name == "url":
                strings = [t for t in token.arguments if t.type not in ("whitespace", "comment")]
                if len(strings) != 1 or strings[0].type != "string":
                    return None
                url = _url(strings[0].value, resolve_url)
            elif token.lower_name in ALLOWED_FUNCTIONS:
                inner = _value(token.arguments, resolve_url)
                url = None if inner is None else f"{token.lower_name}({inner})"
            else:
                return None
            if url is None:
                return None
            out.append(url)
        elif token.type in ("whitespace", "ident", "number", "percentage", "dimension", "hash", "string"):
            out.append(token.serialize())
        elif token.type == "literal" and token.value in (",", "/", "%", "+", "-", "*", "!"):
            out.append(token.value)
        else:  # blocks, at-keywords, parse errors, other literals
            return None
    return "".join(out).strip()


def _declaration(declaration: ast.Declaration, resolve_url: ResolveUrl, allowed: frozenset[str]) -> str | None:
    if declaration.lower_name not in allowed:
        return None
    value = _value(declaration.value, resolve_url)
    if not value or value.lower() in FORBIDDEN_VALUES.get(declaration.lower_name, ()):
        return None
    text = f"{declaration.lower_name}: {value}{' !important' if declaration.important else ''}"
    return None if "<" in text else text


def clean_declarations(css: str, resolve_url: ResolveUrl, allowed: frozenset[str] = ALLOWED_PROPERTIES) -> str:
    """A style attribute's value, keeping allowed declarations only."""
    nodes = tinycss2.parse_declaration_list(css, skip_comments=True, skip_whitespace=True)
    kept = (_declaration(node, resolve_url, allowed) for node in nodes if node.type == "declaration")
    return "; ".join(text for text in kept if text)


def _split_selectors(prelude: list) -> list[list]:
    selectors: list[list] = [[]]
    for token in prelude:
        if token.type == "literal" and token.value == ",":
            selectors.append([])
        elif token.type != "comment":
            selectors[-1].append(token)
    return selectors


def _is_literal(token, value: str) -> bool:
    return token.type == "literal" and token.value == value


def _strip_space(tokens: list) -> list:
    while tokens and tokens[0].type == "whitespace":
        tokens = tokens[1:]
    return tokens


def _is_root(tokens: list, index: int, scope: str) -> int:
    """How many tokens from index name the document root (html, body, :root), 0 if none.

    The scope's own class names the root too: a sheet scoped once (a saved HTML draft, sanitised
    again when it is reopened and sent) keeps its selectors rather than nesting them once more.
    """
    token = tokens[index]
    if token.type == "ident" and token.lower_value in ROOT_SELECTORS:
        return 1
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if token.type == "literal" and following and following.type == "ident":
        if token.value == ":" and following.lower_value == "root":
            return 2
        if token.value == "." and f".{following.value}" == scope:
            return 2
    return 0


def _scoped(selector: list, scope: str) -> str | None:
    """'body .x' -> '.scope .x', 'td' -> '.scope td'; None for selectors that could reach outside."""
    tokens = _strip_space(list(selector))
    while tokens and (taken := _is_root(tokens, 0, scope)):
        rest = tokens[taken:]
        if rest and not (rest[0].type == "whitespace" or _is_literal(rest[0], ">")):
            break  # body.foo, html[lang]: a compound on the root, kept under the scope as written
        tokens = _strip_space(rest)
        after = _strip_space(tokens[1:])
        if tokens and _is_literal(tokens[0], ">") and after and _is_root(after, 0, scope):
            tokens = after  # html > body: both name the root
    if any(t.type in ("url", "{} block", "at-keyword", "error") for t in tokens):
        return None
    if tokens and tokens[0].type == "literal" and tokens[0].value in ("+", "~", "|"):
        return None  # a sibling combinator would select the root's own siblings
    text = tinycss2.serialize(tokens).strip()
    if "<" in text:
        return None
    return f"{scope} {text}" if text else scope


def _condition(prelude: list) -> str | None:
    """A media query or supports condition: plain tokens and parentheses only, no function or URL."""
    for token in prelude:
        if token.type == "() block":
            if _condition(token.content) is None:
                return None
        elif token.type not in ("whitespace", "comment", "ident", "number", "percentage", "dimension", "literal"):
            return None
    text = tinycss2.serialize(prelude).strip()
    return None if "<" in text or "{" in text else text


def _rule(rule, resolve_url: ResolveUrl, scope: str, depth: int) -> str | None:
    if rule.type == "qualified-rule":
        selectors = [s for s in (_scoped(sel, scope) for sel in _split_selectors(rule.prelude)) if s]
        body = clean_declarations(tinycss2.serialize(rule.content), resolve_url)
        return f"{', '.join(selectors)} {{ {body} }}" if selectors and body else None
    if rule.type != "at-rule" or rule.content is None:
        return None  # @import, @charset, @namespace (no block) and parse errors
    if rule.lower_at_keyword in ("media", "supports") and depth < 4:
        prelude = _condition(rule.prelude)
        inner = [_rule(r, resolve_url, scope, depth + 1) for r in _rules(tinycss2.serialize(rule.content))]
        inner = [text for text in inner if text]
        if prelude is None or not inner:
            return None
        return f"@{rule.lower_at_keyword} {prelude} {{\n" + "\n".join(inner) + "\n}"
    if rule.lower_at_keyword == "font-face":
        # Remote fonts are both a tracker and an attack surface: only local() sources survive.
        body = clean_declarations(tinycss2.serialize(rule.content), lambda url: None, FONT_FACE_PROPERTIES)
        return f"@font-face {{ {body} }}" if "src:" in body else None
    return None  # @keyframes, @page, @layer, @property, @container and unknown rules


def _rules(css: str) -> list:
    return tinycss2.parse_rule_list(css, skip_comments=True, skip_whitespace=True)


def clean_stylesheet(css: str, resolve_url: ResolveUrl, scope: str) -> str:
    """A <style> block's content, every selector scoped under `scope`."""
    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    return "\n".join(text for text in (_rule(rule, resolve_url, scope, 0) for rule in rules) if text)
