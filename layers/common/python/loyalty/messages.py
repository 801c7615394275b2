"""An email message and its MIME bytes. Pure: no AWS here (``loyalty.emailer``
sends it), so the logic that composes messages never reaches SES."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from pydantic import BaseModel


class Email(BaseModel):
    to: list[str]
    subject: str
    text: str
    html: str | None = None
    # Free-form tags (e.g. care rule, tenant) carried as X- headers for tracing.
    tags: dict[str, str] = {}
    # Further headers, e.g. List-Unsubscribe and List-Unsubscribe-Post (RFC 8058).
    headers: dict[str, str] = {}


_POLICY = policy.default.clone(max_line_length=998)


def build_mime(sender: str, email: Email) -> bytes:
    # Lines up to RFC 5322's limit: a long List-Unsubscribe URL must stay one plain
    # ``<https://...>`` value, which mail providers read, never an encoded word.
    message = EmailMessage(policy=_POLICY)
    message["From"] = sender
    message["To"] = ", ".join(email.to)
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.split("@", 1)[-1])
    for key, value in sorted(email.tags.items()):
        message[f"X-Loyalty-{key}"] = value
    for key, value in email.headers.items():
        message[key] = value
    message.set_content(email.text)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    return message.as_bytes()
