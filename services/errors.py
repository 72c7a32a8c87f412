"""The one error type services raise; handlers map it to the contract's envelope and a status."""


class ServiceError(Exception):
    """A refusal with a message the client can show. `status` is the HTTP status to answer."""
    status = 400

    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.msg = msg
        if status is not None:
            self.status = status


class Invalid(ServiceError):
    status = 400


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class TooLarge(ServiceError):
    status = 413


class Unsupported(ServiceError):
    status = 415


class TooMany(ServiceError):
    status = 429


class Unavailable(ServiceError):
    status = 503
