"""Builds MIME messages and sends them through SES (SendRawEmail), so the bytes
sent are exactly what the local outbox stores as .eml."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from pydantic import BaseModel

from loyalty import aws


class Email(BaseModel):
    to: list[str]
    subject: str
    text: str
    html: str | None = None
    # Free-form tags (e.g. care rule, tenant) carried as X- headers for tracing.
    tags: dict[str, str] = {}


def build_mime(sender: str, email: Email) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(email.to)
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.split("@", 1)[-1])
    for key, value in sorted(email.tags.items()):
        message[f"X-Loyalty-{key}"] = value
    message.set_content(email.text)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    return message.as_bytes()


def send(sender: str, email: Email) -> str:
    """Send and return the SES message id. Raises on failure: callers decide."""
    response = aws.client("ses").send_raw_email(
        Source=sender, Destinations=email.to, RawMessage={"Data": build_mime(sender, email)}
    )
    return str(response["MessageId"])
