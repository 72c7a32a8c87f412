"""The one error type services raise; handlers map it to the contract's envelope and a status.

A refusal's text is English source text, a template with named parameters
(`Invalid("%(field)s is required", field=validate.label("goodsTitle"))`); the handler root
translates it for the reader (tornado.locale, locale/zh_CN.csv) when it writes the answer.
Services stay free of Tornado: they only name the English text and its parameters."""


class Phrase(str):
    """English source text used as a parameter of another text (a field's name, what was sent
    too often): translated together with the template. Plain str parameters (numbers, names
    a person typed) are put in as they are."""
    __slots__ = ()


def render(template, params, translate=None):
    """`template % params` in the reader's language: `translate` (a tornado.locale translate)
    is applied to the template and to every Phrase parameter; None gives the English text. A
    translation whose parameters don't fit the values falls back to the English text."""
    tr = translate or (lambda s: s)
    values = {k: tr(v) if isinstance(v, Phrase) else v for k, v in params.items()}
    if not params:
        return tr(template)
    try:
        return tr(template) % values
    except (KeyError, TypeError, ValueError):
        return template % {k: v for k, v in params.items()}


class ServiceError(Exception):
    """A refusal with a message the client can show. `status` is the HTTP status to answer;
    `template` and `params` are the English text and its named parameters; `msg` is the
    English text with them put in (logs, the command line)."""
    status = 400

    def __init__(self, msg, status=None, **params):
        self.template, self.params = msg, params
        self.msg = render(msg, params)
        super().__init__(self.msg)
        if status is not None:
            self.status = status

    def text(self, translate=None):
        """The message in the language of `translate` (see render)."""
        return render(self.template, self.params, translate)


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


class Busy(Unavailable):
    """The database is up but gave up on this change for now (a deadlock or a lock wait its
    retries did not get past) or every worker stayed busy: 503 with Retry-After, a clear
    "busy, try again", never "unavailable" (the client may send the same call again)."""
    retry_after = 1
