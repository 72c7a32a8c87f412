"""WeChat's server access token as stored in the database, so every process shares one
(wechat/client.py fetches and refreshes it; these run on the database executor)."""
from peewee import IntegrityError

from models import write_txn
from models.wechat import WechatToken

TOKEN_NAME = "access_token"


def load():
    """(value, expires_at) of the stored token, or (None, None)."""
    row = WechatToken.get_or_none(WechatToken.name == TOKEN_NAME)
    return (row.value, row.expires_at) if row else (None, None)


def store(value, expires_at):
    """Keep a new token (insert or replace; a concurrent insert by another process is fine)."""
    updated = WechatToken.update(value=value, expires_at=expires_at).where(
        WechatToken.name == TOKEN_NAME).execute()
    if not updated:
        try:
            with write_txn():
                WechatToken.create(name=TOKEN_NAME, value=value, expires_at=expires_at)
        except IntegrityError:  # another process stored one at the same moment: keep ours
            WechatToken.update(value=value, expires_at=expires_at).where(
                WechatToken.name == TOKEN_NAME).execute()


def forget(value):
    """Drop the stored token if it is still `value` (WeChat said it is no longer valid)."""
    WechatToken.delete().where(WechatToken.name == TOKEN_NAME, WechatToken.value == value).execute()
