"""Fixes to Rasa 3.6's hot path, installed by `deploy.rasa_main` before the server starts.

Measured with py-spy under load (docs/benchmarks.md): Rasa validates every action server
response with `jsonschema.validate`, which re-checks the (constant, large) response schema
against its meta-schema on every call. That check was ~75% of the Rasa server's CPU in a
conversation with custom actions. The patch validates against a validator built (and its
schema checked) once; the result and the error raised on a bad response are the same.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import exceptions, validators
from rasa.core.actions.action import RemoteAction


@lru_cache(maxsize=1)
def _response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """`RemoteAction._validate_action_result` without re-checking the schema each call."""
    error = exceptions.best_match(_response_validator().iter_errors(result))
    if error is None:
        return True
    # Rasa's own wording for a bad response (rasa/core/actions/action.py).
    error.message += (
        ". Failed to validate Action server response from API, make sure your response "
        "from the Action endpoint is valid."
    )
    raise error


def install() -> None:
    """Installs the patches (idempotent)."""
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


def installed() -> bool:
    """Whether `install` ran in this process."""
    return RemoteAction._validate_action_result is _validate_action_result

