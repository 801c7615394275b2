"""An email message and its MIME bytes. Pure: no AWS here (``loyalty.emailer``
sends it), so the logic that composes messages never reaches SES.

A message is text/plain, or multipart/alternative with an html part; with attachments
that part is wrapped in multipart/mixed, each attachment base64-encoded after it."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from pydantic import BaseModel


class Attachment(BaseModel):
    filename: str
    content_type: str  # e.g. "text/csv; charset=utf-8"
    data: bytes


class Email(BaseModel):
    to: list[str]
    subject: str
    text: str
    html: str | None = None
    # Free-form tags (e.g. care rule, tenant) carried as X- headers for tracing.
    tags: dict[str, str] = {}
    # Further headers, e.g. List-Unsubscribe and List-Unsubscribe-Post (RFC 8058).
    headers: dict[str, str] = {}
    attachments: list[Attachment] = []


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
    for attachment in email.attachments:
        _attach(message, attachment)
    return message.as_bytes()


def _attach(message: EmailMessage, attachment: Attachment) -> None:
    kind, _, rest = attachment.content_type.partition(";")
    maintype, _, subtype = kind.strip().lower().partition("/")
    if not maintype or not subtype:
        raise ValueError(f"not a content type: {attachment.content_type!r}")
    params = {}
    for item in rest.split(";"):
        key, _, value = item.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip().strip('"')
    message.add_attachment(
        attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename, params=params
    )
