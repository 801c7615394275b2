"""Writes every email sent through (moto's) SES into a folder as .eml files."""

from __future__ import annotations

import re
import threading
from email import message_from_string, policy
from pathlib import Path
from typing import Any


def _slug(raw: str) -> str:
    """A file name for a message: a care email by its rule (its subject is in the member's
    language), a KPI report by its id (``report-monthly-2026-03-01``), any other by its
    subject."""
    message = message_from_string(raw, policy=policy.default)
    rule, report = message["X-Loyalty-Rule"], message["X-Loyalty-ReportId"]
    name = f"care {rule}" if rule else f"report {report}" if report else str(message["Subject"] or "message")
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "message"


class Outbox:
    def __init__(self, folder: Path, account: str, region: str) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.eml"):
            old.unlink()
        self._account = account
        self._region = region
        self._written = 0
        self._lock = threading.Lock()

    def _messages(self) -> list[Any]:
        from moto.ses.models import ses_backends

        return list(ses_backends[self._account][self._region].sent_messages)

    def flush(self) -> list[Path]:
        """Write the messages sent since the last flush; return their paths."""
        with self._lock:
            messages = self._messages()
            paths = []
            for message in messages[self._written :]:
                self._written += 1
                raw = getattr(message, "raw_data", None)
                if raw is None:  # SendEmail (not raw): rebuild a minimal message
                    raw = f"From: {message.source}\r\nSubject: {message.subject}\r\n\r\n{message.body}"
                slug = _slug(raw)
                path = self.folder / f"{self._written:05d}-{slug[:60]}.eml"
                path.write_text(raw, encoding="utf-8")
                paths.append(path)
            return paths

    @property
    def count(self) -> int:
        return self._written
