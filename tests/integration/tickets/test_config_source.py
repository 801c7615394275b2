"""The ticket functions read the service configuration from the SSM parameter the
deployment writes (moto SSM), validated, cached, and refuse a missing or invalid one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.definitions import SERVICE_CONFIG_PARAMETER, service_config_json
from tickets import config_source
from tickets.service_config import ServiceConfig

pytestmark = pytest.mark.integration


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("ssm", region_name="eu-central-1")
        monkeypatch.setenv(config_source.PARAMETER_VARIABLE, SERVICE_CONFIG_PARAMETER)
        config_source.clear_cache()
        yield client
        config_source.clear_cache()


def _put(client: Any, value: str) -> None:
    client.put_parameter(Name=SERVICE_CONFIG_PARAMETER, Value=value, Type="String", Overwrite=True)


def test_the_deployed_document_reads_back_as_the_validated_config(ssm: Any) -> None:
    _put(ssm, service_config_json())
    config = config_source.service_config()
    assert isinstance(config, ServiceConfig)
    assert config.model_dump_json() == service_config_json()
    assert [p.name for p in config.policies] == ["vip", "urgent", "high", "default"]
    assert config.calendar("cn-business").zone == "Asia/Shanghai"


def test_the_parameter_is_cached_until_the_cache_is_cleared(ssm: Any) -> None:
    _put(ssm, service_config_json())
    first = config_source.service_config()
    document = json.loads(service_config_json())
    document["policies"][0]["version"] = 7
    _put(ssm, json.dumps(document))
    assert config_source.service_config() is first  # within the five minutes: the same
    config_source.clear_cache()
    assert config_source.service_config().policies[0].version == 7


def test_an_invalid_document_raises_at_use_naming_the_field(ssm: Any) -> None:
    document = json.loads(service_config_json())
    document["policies"][0]["calendar"] = "nowhere"
    _put(ssm, json.dumps(document))
    with pytest.raises(config_source.ServiceConfigError, match=r"service-config is invalid: .*nowhere"):
        config_source.service_config()


def test_a_document_that_is_not_json_raises(ssm: Any) -> None:
    _put(ssm, "calendars: {}")
    with pytest.raises(config_source.ServiceConfigError, match="is not JSON"):
        config_source.service_config()


def test_without_the_variable_nothing_is_guessed(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config_source.PARAMETER_VARIABLE)
    with pytest.raises(config_source.ServiceConfigError, match="SERVICE_CONFIG_PARAMETER is not set"):
        config_source.service_config()
