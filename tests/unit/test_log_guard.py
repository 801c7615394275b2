"""The suite-wide guard against personal data in logs can fail."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import personal, personal_data_in

pytestmark = pytest.mark.unit


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("points", logging.INFO, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return record


def test_emails_phones_and_marked_values_in_a_message_or_its_extras_are_found() -> None:
    personal("Mei Lin")
    personal("1990-03-11")
    assert personal_data_in([_record("sent to ann@example.com")])
    assert personal_data_in([_record("sent", extra_field="boss@rival.example")])
    assert personal_data_in([_record("call", phone="+8613800138000")])
    assert personal_data_in([_record("greeting for Mei Lin")])
    assert personal_data_in([_record("birthday", day="1990-03-11")])


def test_ids_counts_and_timestamps_are_not_personal() -> None:
    personal("M-1")
    clean = _record("member erased", member_id="m-1", events_scrubbed=3, at="2026-03-10T12:00:00.000Z")
    assert personal_data_in([clean]) == []


def test_an_exception_traceback_is_searched_too() -> None:
    try:
        raise ValueError("bad address ann@example.com")
    except ValueError:
        import sys

        record = _record("unhandled error")
        record.exc_info = sys.exc_info()
    assert personal_data_in([record])
