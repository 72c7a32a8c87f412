"""A client msgId is unique per sender and recipient, not per sender: a client that numbers each
conversation from 1 sent "1" to bob, then "1" to carol, and carol's message was taken for a
resend of bob's and never stored. The unique key becomes (from_openid, to_openid, client_msg_id);
it is wider than the old one, so existing rows always fit it."""
from playhouse.migrate import migrate


def up(database, migrator):
    """Replace offline_message's (from_openid, client_msg_id) key by one that names the recipient."""
    migrate(
        migrator.add_index("offline_message", ("from_openid", "to_openid", "client_msg_id"),
                           True),
        migrator.drop_index("offline_message", "offline_message_from_openid_client_msg_id"),
    )
