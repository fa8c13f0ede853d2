"""Request logs without what a URL path may carry that must not be logged (link tokens, INS)."""

from __future__ import annotations

import logging
import re


class RedactPaths(logging.Filter):
    """Request logs (the development server's, the live server of the tests) show `replacement` for `pattern`."""

    def __init__(self, pattern: str, replacement: str):
        super().__init__()
        self.pattern, self.replacement = re.compile(pattern), replacement

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        return True

    def redact(self, text: str) -> str:
        return self.pattern.sub(self.replacement, text)


def redact_request_logs(pattern: str, replacement: str) -> None:
    logging.getLogger("werkzeug").addFilter(RedactPaths(pattern, replacement))
