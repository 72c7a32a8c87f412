"""Every chat message is stored (chat_message, models/chat.py): the offline store becomes "messages
not yet received" in the same table, so offline_message's rows move there (keeping their slots)
and offline_message is dropped; chat_list gets the per-owner `cleared_seq` and `hidden` that
deleteList1 sets. Frozen DDL."""
MYSQL = [
    """CREATE TABLE chat_message (
        seq INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY,
        pair VARCHAR(129) NOT NULL,
        from_openid VARCHAR(64) NOT NULL,
        to_openid VARCHAR(64) NOT NULL,
        content TEXT NOT NULL,
        type VARCHAR(16) NOT NULL,
        client_msg_id VARCHAR(64),
        send_time DATETIME NOT NULL,
        received INTEGER NOT NULL,
        offline_slot INTEGER
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
]
SQLITE = [
    """CREATE TABLE chat_message (
        seq INTEGER NOT NULL PRIMARY KEY,
        pair VARCHAR(129) NOT NULL,
        from_openid VARCHAR(64) NOT NULL,
        to_openid VARCHAR(64) NOT NULL,
        content TEXT NOT NULL,
        type VARCHAR(16) NOT NULL,
        client_msg_id VARCHAR(64),
        send_time DATETIME NOT NULL,
        received INTEGER NOT NULL,
        offline_slot INTEGER)""",
]
INDEXES = [
    "CREATE INDEX chat_message_pair_seq ON chat_message (pair, seq)",
    "CREATE UNIQUE INDEX chat_message_from_openid_to_openid_client_msg_id "
    "ON chat_message (from_openid, to_openid, client_msg_id)",
    "CREATE UNIQUE INDEX chat_message_to_openid_from_openid_offline_slot "
    "ON chat_message (to_openid, from_openid, offline_slot)",
    "CREATE INDEX chat_message_to_openid_from_openid_received_seq "
    "ON chat_message (to_openid, from_openid, received, seq)",
    "CREATE INDEX chat_message_send_time ON chat_message (send_time)",
]
MOVE = """INSERT INTO chat_message (pair, from_openid, to_openid, content, type, client_msg_id,
        send_time, received, offline_slot)
    SELECT CASE WHEN from_openid < to_openid THEN {a} ELSE {b} END,
        from_openid, to_openid, content, type, client_msg_id, send_time, 0, slot
    FROM offline_message ORDER BY message_id"""


def up(database, migrator):
    """Create chat_message, move the offline store into it, add chat_list's clearing columns."""
    from peewee import IntegerField
    from playhouse.migrate import migrate
    from models import is_mysql
    mysql = is_mysql(database)
    for statement in (MYSQL if mysql else SQLITE) + INDEXES:
        database.execute_sql(statement)
    if mysql:
        pair = MOVE.format(a="CONCAT(from_openid, ' ', to_openid)",
                           b="CONCAT(to_openid, ' ', from_openid)")
    else:
        pair = MOVE.format(a="from_openid || ' ' || to_openid", b="to_openid || ' ' || from_openid")
    database.execute_sql(pair)
    database.execute_sql("DROP TABLE offline_message")
    migrate(migrator.add_column("chat_list", "cleared_seq", IntegerField(default=0)),
            migrator.add_column("chat_list", "hidden", IntegerField(default=0)))
