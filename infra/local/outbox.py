"""Writes every email sent through (moto's) SES into a folder as .eml files."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any


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
                subject = re.search(r"^Subject: (.*)$", raw, re.MULTILINE)
                slug = re.sub(r"[^a-z0-9]+", "-", (subject.group(1) if subject else "message").lower()).strip(
                    "-"
                )
                path = self.folder / f"{self._written:05d}-{slug[:60]}.eml"
                path.write_text(raw, encoding="utf-8")
                paths.append(path)
            return paths

    @property
    def count(self) -> int:
        return self._written
