"""Consent to the privacy policy: a line per consent or withdrawal, the
version in force in getUserInfo, and withdrawal turning off what depends on consent (subscribe
messages: the grants go, and no new ones are kept until the student agrees again). A student who
never answered (the published client never asks) is treated as before: nothing is turned off."""
from models import utcnow, write_txn
from models.admin import record
from models.privacy import ACCEPT, WITHDRAW, Consent
from models.subscription import NotifyGrant, NotifySent
from models.user import DELETED, User
from services import validate
from errors import Invalid, NotFound


def _user(openid):
    user = User.by_openid(openid)
    if user is None or user.state == DELETED:
        raise NotFound("no such user")
    return user


def parse(body, current):
    """(action, version) of a consent call, or Invalid: {"version": current} agrees,
    {"withdraw": true} withdraws; anything else changes nothing."""
    if "withdraw" in body:
        if body["withdraw"] is not True:
            raise Invalid('withdraw must be true (to agree, send {"version": "%(version)s"})',
                          version=current)
        return WITHDRAW, ""
    if "version" not in body:
        raise Invalid("%(field)s is required", field=validate.label("version"))
    version = validate.text(body["version"], "version", 32)
    if version != current:
        raise Invalid("the privacy policy is now version %(version)s: read it and agree again",
                      version=current)
    return ACCEPT, version


def consent(openid, action, version, current):
    """Record an agreement or a withdrawal (one transaction, audited); a withdrawal also drops
    the student's subscribe-message grants. Returns status()."""
    def write():
        _user(openid)
        Consent.create(openid=openid, version=version, action=action, created_at=utcnow())
        if action == WITHDRAW:
            NotifyGrant.delete().where(NotifyGrant.openid == openid).execute()
            NotifySent.delete().where(NotifySent.to_openid == openid).execute()
        record(openid, "consent_" + action, "user:" + openid, new=version)
        return status(openid, current)
    with write_txn():
        return write()


def status(openid, current):
    """extend.privacy of getUserInfo: the policy in force and this student's answer."""
    line = Consent.latest(openid)
    agreed = line is not None and line.action == ACCEPT
    return {"policyVersion": current,
            "consentedVersion": line.version if agreed else "",
            "consentedAt": line.created_at.strftime("%Y-%m-%dT%H:%M:%SZ") if line else "",
            "current": agreed and line.version == current,
            "withdrawn": line is not None and line.action == WITHDRAW}


def withdrawn(openid):
    """True when the student's latest answer is a withdrawal (subscribe messages are off)."""
    line = Consent.latest(openid)
    return line is not None and line.action == WITHDRAW
