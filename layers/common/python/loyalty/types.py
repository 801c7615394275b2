"""Constrained string types shared by the API models of every function."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/+\-]+$")
]
Money = Annotated[str, StringConstraints(pattern=r"^\d{1,12}(\.\d{1,4})?$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
