"""What a failure record and a log line may say about an error: no personal data."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError

from loyalty import jobs

pytestmark = pytest.mark.unit


def test_an_aws_error_keeps_its_code_and_loses_the_addresses() -> None:
    err = ClientError(
        {
            "Error": {
                "Code": "MessageRejected",
                "Message": "The following identities failed the check: ann@example.com, +4915112345678",
            }
        },
        "SendRawEmail",
    )
    info = jobs.describe_error(err)
    assert (info.error_class, info.error_code) == ("ClientError", "MessageRejected")
    assert info.message == "The following identities failed the check: <address>, <phone>"


def test_a_validation_error_keeps_the_fields_and_not_their_values() -> None:
    class Profile(BaseModel):
        age: int

    with pytest.raises(ValidationError) as caught:
        Profile.model_validate({"age": "Ann Example"})
    info = jobs.describe_error(caught.value)
    assert info.error_class == "ValidationError" and "Ann" not in info.message
    assert info.message.startswith("age: ")


def test_where_names_the_raising_frame_and_messages_are_bounded() -> None:
    def fail() -> None:
        raise RuntimeError("x" * 1000)

    with pytest.raises(RuntimeError) as caught:
        fail()
    info = jobs.describe_error(caught.value)
    assert info.where.startswith("test_failure_records.py:") and info.where.endswith(" in fail")
    assert len(info.message) == jobs.MESSAGE_LIMIT


def test_a_delivery_claims_lease_outlasts_every_sending_function() -> None:
    """A claim older than its lease belongs to an invocation that has ended."""
    from infra.definitions import FUNCTIONS
    from loyalty.once import LEASE

    senders = [fn for fn in FUNCTIONS if fn.sends_email]
    assert senders and all(fn.timeout_seconds < LEASE.total_seconds() for fn in senders)
