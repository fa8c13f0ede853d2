"""render_message gives the frame document; FrameCache sanitises a message once; render_command prints it."""

from __future__ import annotations

import base64

from mail.mime import parse_message
from mail.render import FrameCache, inline_images, render_command, render_message

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
RAW = (
    "From: a@hopital.mssante.fr\nSubject: Test\nContent-Type: multipart/related; boundary=b\n\n"
    "--b\nContent-Type: text/html; charset=utf-8\n\n"
    '<p onclick="x">Bonjour <img src="cid:logo"> <img src="https://tracker.example/p.gif"></p>\n'
    f"--b\nContent-Type: image/png\nContent-ID: <logo>\nContent-Transfer-Encoding: base64\n\n{PNG}\n--b--\n"
).encode()


def test_render_message_serves_sanitised_html_in_the_frame_document():
    document = render_message(RAW)
    assert document.startswith("<!doctype html>")
    assert "Bonjour" in document and "onclick" not in document and "tracker.example" not in document


def test_render_message_renders_plain_text_escaped():
    document = render_message(b"Subject: x\n\n<b>pas du HTML</b> https://example.org\n")
    assert "&lt;b&gt;pas du HTML&lt;/b&gt;" in document
    assert 'href="https://example.org"' in document


def test_render_command_prints_the_document_with_inline_images(tmp_path, capsys):
    path = tmp_path / "message.eml"
    path.write_bytes(RAW)
    render_command(path)
    output = capsys.readouterr().out
    assert output.startswith("<!doctype html>")
    assert f"data:image/png;base64,{PNG}" in output
    assert "tracker.example" not in output


def test_frame_cache_frames_like_the_frame_view_and_flags_blocked_remote_content():
    frame = FrameCache().frame(RAW)
    assert frame.remote_blocked
    assert frame.document == render_message(RAW, cid_url=inline_images(parse_message(RAW)))


def test_frame_cache_sanitises_the_same_message_once_and_tells_different_ones_apart():
    cache = FrameCache(size=2)
    first = cache.frame(RAW)
    assert cache.frame(RAW) is first
    other = cache.frame(b"Subject: x\n\nAutre message\n")
    assert "Autre message" in other.document and not other.remote_blocked
    cache.frame(b"Subject: y\n\nTroisieme\n")  # the oldest entry leaves a full cache
    assert cache.frame(RAW) is not first and cache.frame(RAW).document == first.document
