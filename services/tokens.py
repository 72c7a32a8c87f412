"""Signed, expiring bearer tokens (JWT, HS256) for users and admins."""
import time

import jwt

from errors import Unauthorized

ISSUER = "market"


def issue(secret, subject, ttl, role="user", now=None, epoch=None):
    """A token for `subject` (an openid, or an admin's username when role is admin); `epoch`
    (claim `ep`) lets it be ended server-side: an admin's by services.admin_accounts.session_valid,
    a user's by services.accounts.token_epoch (checked per request, handlers.base
    check_user_session; a user token without `ep` is epoch 0)."""
    now = int(now or time.time())
    claims = {"sub": subject, "role": role, "iat": now, "exp": now + int(ttl), "iss": ISSUER}
    if epoch is not None:
        claims["ep"] = epoch
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(secret, token):
    """The token's claims, or Unauthorized naming what was wrong."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=ISSUER,
                            options={"require": ["sub", "exp", "role"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired, log in again")
    except jwt.InvalidTokenError:
        raise Unauthorized("invalid token")
    if claims.get("role") not in ("user", "admin") or not isinstance(claims.get("sub"), str):
        raise Unauthorized("invalid token")
    return claims
