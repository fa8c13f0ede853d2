"""What the message frame serves: a parsed message's body, sanitised, in the frame document."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from mail.mime import RASTER_IMAGES, Message, parse_message
from mail.sanitize import CidUrl, ProxyUrl, SanitizedHtml, frame_document, render_text, sanitize_html


def render_body(
    message: Message,
    *,
    allow_remote: bool = False,
    proxy_url: ProxyUrl | None = None,
    cid_url: CidUrl | None = None,
) -> SanitizedHtml:
    """The HTML body when there is one, else the plain text; remote_blocked tells the UI to offer it."""
    if message.html is not None:
        return sanitize_html(message.html, allow_remote=allow_remote, proxy_url=proxy_url, cid_url=cid_url)
    return SanitizedHtml(render_text(message.text or ""), remote_blocked=False)


def render_message(
    raw: bytes,
    *,
    allow_remote: bool = False,
    proxy_url: ProxyUrl | None = None,
    cid_url: CidUrl | None = None,
) -> str:
    """Exactly the document the sandboxed message frame serves for a raw message."""
    body = render_body(parse_message(raw), allow_remote=allow_remote, proxy_url=proxy_url, cid_url=cid_url)
    return frame_document(body.fragment)


def inline_images(message: Message) -> CidUrl:
    """cid: images as data: URLs, so that a rendering saved to a file shows them (raster images only)."""

    def cid_url(content_id: str) -> str | None:
        part = message.attachment_by_cid(content_id)
        if part is None or part.content_type not in RASTER_IMAGES:
            return None
        return f"data:{part.content_type};base64,{base64.b64encode(part.data).decode('ascii')}"

    return cid_url


def render_command(path: str | Path) -> None:
    """`portal mail render FILE.eml`: print the frame document, remote content blocked."""
    message = parse_message(Path(path).read_bytes())
    sys.stdout.write(frame_document(render_body(message, cid_url=inline_images(message)).fragment) + "\n")
