"""Every message of the shared MIME corpus parses and renders without raising."""

from __future__ import annotations

import pytest

from mail.mime import parse_message
from mail.render import render_body
from mail.sanitize import ROOT_CLASS, frame_document
from portal.settings import ROOT

CORPUS = ROOT.parent / "shared" / "corpus" / "mime"


def corpus_files() -> list[str]:
    """The message files listed by INDEX.tsv (the folder also holds SOURCES.md and the index)."""
    index = CORPUS / "INDEX.tsv"
    if not index.exists():
        return []
    rows = index.read_text(encoding="utf-8").splitlines()[1:]
    return [row.split("\t", 1)[0] for row in rows if row.strip()]


FILES = corpus_files()


def test_corpus_is_present():
    assert len(FILES) > 300, f"the MIME corpus was expected in {CORPUS}"


@pytest.mark.parametrize("name", FILES)
def test_corpus_message_parses_and_renders(name):
    message = parse_message((CORPUS / name).read_bytes())
    assert message.html is not None or message.text is not None
    assert isinstance(message.attachments, tuple)
    for attachment in message.attachments:
        assert attachment.filename and "/" not in attachment.filename and "\\" not in attachment.filename
        assert attachment.size == len(attachment.data)
    document = frame_document(render_body(message).fragment)
    assert document.startswith("<!doctype html>") and f'class="{ROOT_CLASS}"' in document
