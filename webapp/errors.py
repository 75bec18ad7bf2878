"""Domain exceptions and their one mapping to HTTP.

Services raise these; the API answers them as ``{"error": {"code", "message", "field"?}}`` and the
web pages show the message. Nothing else in the code base decides status codes for domain errors.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas import FieldError

#: Seconds a client is asked to wait (``Retry-After``) when a service a request needs is down.
#: Long enough for a restarted container or a failed-over database; people are told "a few
#: minutes" and integrations retry with their own back-off from there.
OUTAGE_RETRY_AFTER = 60


class PassagesError(Exception):
    """Base class: ``code`` is stable for integrations, ``message`` is for people.

    ``retry_after`` (seconds), when set, goes out as the ``Retry-After`` header: the request
    may succeed later unchanged.
    """

    status = 400
    code = "bad_request"
    retry_after: int | None = None

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def to_json(self) -> dict:
        body: dict = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return {"error": body}


class BadRequest(PassagesError):
    status = 400
    code = "bad_request"


class ValidationFailed(PassagesError):
    """The submitted document breaks the schema or a rule; every problem is listed."""

    status = 422
    code = "validation_failed"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        first = errors[0]
        super().__init__(first.message, field=first.field)
        self.errors = list(errors)

    def to_json(self) -> dict:
        body = super().to_json()
        body["error"]["details"] = [{"field": e.field, "message": e.message} for e in self.errors]
        return body


class UploadRejected(PassagesError):
    """An uploaded file is not an image we accept (wrong format, damaged, too large)."""

    status = 422
    code = "upload_rejected"


class PayloadTooLarge(PassagesError):
    status = 413
    code = "too_large"


class InvalidInput(BadRequest):
    """Well-formed input that breaks a rule (an empty title, a story that is not published): 422.

    A :class:`BadRequest`, so callers that catch those (form views) keep working; the API
    answers 422 like a schema failure.
    """

    status = 422
    code = "validation_failed"


class AuthenticationRequired(PassagesError):
    status = 401
    code = "authentication_required"


class Forbidden(PassagesError):
    status = 403
    code = "forbidden"


class NotFound(PassagesError):
    status = 404
    code = "not_found"


class Gone(PassagesError):
    """Was public once and is no longer (withdrawn or erased): 410, so that search engines and
    harvesters drop it, where an id never published stays a plain 404."""

    status = 410
    code = "gone"


class TransitionNotAllowed(PassagesError):
    status = 409
    code = "transition_not_allowed"


class SearchUnavailable(PassagesError):
    """Search could not answer (the engine failed, or its index is being rebuilt).

    Never shown as "no results": the API answers 503 with this code, pages say so visibly.
    ``rebuilding`` tells the two cases apart for people and integrations.
    """

    status = 503
    code = "search_unavailable"
    retry_after = 30

    def __init__(self, message: str, *, rebuilding: bool = False) -> None:
        super().__init__(message)
        self.rebuilding = rebuilding

    def to_json(self) -> dict:
        body = super().to_json()
        body["error"]["rebuilding"] = self.rebuilding
        return body


class ServiceUnavailable(PassagesError):
    """A service the request needs is down for now: the action was not done, try again later.

    Raised at the HTTP boundary (``webapp.errorhandlers``) from what the layers below raise when
    they cannot reach their service: :class:`storage.StorageUnavailable` from the object store,
    a lost connection from the database, a connection error from Redis. Never used for a fault
    of the request or a bug: those stay 4xx and 500. ``dependency`` names the service
    (``object_store``, ``database``, ``redis``), as ``/readyz`` does; the whole action was rolled
    back (the unit of work removes what it had written to storage), so nothing half-done stays.
    """

    status = 503
    code = "service_unavailable"
    retry_after = OUTAGE_RETRY_AFTER

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(message)
        self.dependency = dependency

    def to_json(self) -> dict:
        body = super().to_json()
        body["error"]["dependency"] = self.dependency
        body["error"]["retry_after"] = self.retry_after
        return body
