"""What the message frame serves: a parsed message's body, sanitised, in the frame document."""

from __future__ import annotations

import base64
import hashlib
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Frame:
    document: str  # the whole document of the sandboxed frame
    remote_blocked: bool


def default_frame(message: Message) -> Frame:
    """The frame as the message view first serves it: remote content blocked, cid: images inline."""
    body = render_body(message, cid_url=inline_images(message))
    return Frame(frame_document(body.fragment), body.remote_blocked)


class FrameCache:
    """The default framing (remote content blocked) of recently read messages, keyed by the raw bytes' hash.

    Opening a message is two requests: the page, which must know whether remote content was blocked,
    and its frame, which serves the same sanitised body. Sanitising once saves the frame a parse and
    a sanitising pass. Keyed by content, an entry can only ever answer for the very same message.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._frames: OrderedDict[bytes, Frame] = OrderedDict()
        self._lock = threading.Lock()

    def frame(self, raw: bytes, message: Message | None = None) -> Frame:
        key = hashlib.sha256(raw).digest()
        with self._lock:
            cached = self._frames.get(key)
            if cached is not None:
                self._frames.move_to_end(key)
                return cached
        frame = default_frame(message or parse_message(raw))
        with self._lock:
            self._frames[key] = frame
            while len(self._frames) > self._size:
                self._frames.popitem(last=False)
        return frame


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
    sys.stdout.write(default_frame(parse_message(Path(path).read_bytes())).document + "\n")
