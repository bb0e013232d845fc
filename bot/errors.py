"""Domain errors and the one handler that turns every failure into safe JSON."""

from __future__ import annotations

import logging
from typing import Any

from sanic import Request
from sanic.exceptions import SanicException
from sanic.handlers import ErrorHandler
from sanic.response import HTTPResponse, json

logger = logging.getLogger(__name__)


class GatewayError(Exception):
    """An expected failure with a fixed, safe message for the client."""

    status = 400
    code = "bad_request"
    message = "The request is not valid."

    def __init__(self, message: str | None = None) -> None:
        """Optionally replace the default message (never put request data in it)."""
        super().__init__(message or self.message)
        if message:
            self.message = message


class InvalidRequest(GatewayError):
    """Malformed JSON or a missing or wrong field."""


class MessageTooLarge(GatewayError):
    """The customer's message is longer than the limit."""

    status = 413
    code = "message_too_large"
    message = "The message is too long (at most 2000 characters). 消息太长了，最多 2000 字。"


class Unauthorized(GatewayError):
    """No valid agent session."""

    status = 401
    code = "unauthorized"
    message = "Please log in."


class Forbidden(GatewayError):
    """Logged in but not allowed."""

    status = 403
    code = "forbidden"
    message = "You are not allowed to do this."


class NotFound(GatewayError):
    """Nothing at that id."""

    status = 404
    code = "not_found"
    message = "Not found."


class Conflict(GatewayError):
    """The state changed under the caller (already claimed, not held, ...)."""

    status = 409
    code = "conflict"
    message = "The conversation is not in a state that allows this."


class TooManyRequests(GatewayError):
    """Too many failed attempts."""

    status = 429
    code = "too_many_requests"
    message = "Too many attempts; try again later."


def error_body(code: str, message: str, request: Request | None) -> dict[str, Any]:
    """Build the error JSON (with the request id for support, nothing from the request)."""
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if request is not None:
        rid = getattr(request.ctx, "request_id", None)
        if rid:
            body["error"]["request_id"] = rid
    return body


class GatewayErrorHandler(ErrorHandler):
    """Maps domain errors to their status; hides everything else behind a 500."""

    def default(self, request: Request, exception: Exception) -> HTTPResponse:
        """Render any exception as JSON without echoing the request."""
        if isinstance(exception, GatewayError):
            return json(
                error_body(exception.code, exception.message, request),
                status=exception.status,
            )
        if isinstance(exception, SanicException):
            status = int(getattr(exception, "status_code", 500) or 500)
            if status >= 500:
                logger.error("server error %s: %s", status, type(exception).__name__)
            code = {
                404: "not_found",
                405: "method_not_allowed",
                413: "payload_too_large",
                408: "request_timeout",
            }.get(status, "bad_request" if status < 500 else "server_error")
            message = {
                404: "Not found.",
                405: "Method not allowed.",
                413: "The request body is too large.",
            }.get(status, "The request could not be handled.")
            return json(error_body(code, message, request), status=status)
        logger.exception("unexpected error", exc_info=exception)
        return json(
            error_body("server_error", "Something went wrong on our side.", request),
            status=500,
        )
