"""Sends messages through SES (SendRawEmail), so the bytes sent are exactly what
the local outbox stores as .eml (``loyalty.messages`` builds them)."""

from __future__ import annotations

from loyalty import aws
from loyalty.messages import Email, build_mime

__all__ = ["Email", "send"]


def send(sender: str, email: Email) -> str:
    """Send and return the SES message id. Raises on failure: callers decide."""
    response = aws.client("ses").send_raw_email(
        Source=sender, Destinations=email.to, RawMessage={"Data": build_mime(sender, email)}
    )
    return str(response["MessageId"])
