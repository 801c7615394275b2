"""The default care rules every tenant starts with (``config/care_rules.yaml``).

The deployment validates the file and stores it in SSM Parameter Store as compact
JSON (``infra.definitions.care_rules_defaults_json``); functions read the parameter
named by ``CARE_RULES_PARAMETER`` through Powertools Parameters, cached for five
minutes, and validate it again with the same model. A function without the
parameter cannot seed, and says so, rather than seed an empty rule set."""

from __future__ import annotations

import json
import os
from functools import lru_cache

from care_rules.rules import CareRule, validate_rule_set

PARAMETER_VARIABLE = "CARE_RULES_PARAMETER"
PARAMETER_MAX_AGE_SECONDS = 300


@lru_cache(maxsize=4)
def _parse(raw: str) -> dict[str, CareRule]:
    return validate_rule_set(json.loads(raw))


def default_rules() -> dict[str, CareRule]:
    """The default rules by id."""
    name = os.environ.get(PARAMETER_VARIABLE)
    if not name:
        raise RuntimeError(f"{PARAMETER_VARIABLE} is not set: the default care rules are unknown")
    from aws_lambda_powertools.utilities import parameters

    return _parse(str(parameters.get_parameter(name, max_age=PARAMETER_MAX_AGE_SECONDS)))
