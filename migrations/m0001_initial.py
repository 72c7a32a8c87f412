"""The first schema: every table of the original, plus timestamps, indexes and unique keys.

Frozen DDL (generated once from the models of that day) so later model edits cannot change it.
MySQL tables are utf8mb4 so emoji round-trip without escaping.
"""
from models import is_mysql

SQLITE = [
    'CREATE TABLE "user" ("id" INTEGER NOT NULL PRIMARY KEY, "openid" VARCHAR(64) NOT NULL, "wxname" VARCHAR(64) NOT NULL, "head_img" VARCHAR(512) NOT NULL, "sex" INTEGER NOT NULL, "uname" VARCHAR(64) NOT NULL, "qq" VARCHAR(32) NOT NULL, "wx" VARCHAR(64) NOT NULL, "school" VARCHAR(64) NOT NULL, "xuehao" VARCHAR(32) NOT NULL, "uclass" VARCHAR(64) NOT NULL, "state" INTEGER NOT NULL, "reason" TEXT NOT NULL, "registered" INTEGER NOT NULL, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "user_openid" ON "user" ("openid")',
    'CREATE INDEX "user_state" ON "user" ("state")',
    'CREATE TABLE "goods" ("gid" INTEGER NOT NULL PRIMARY KEY, "openid" VARCHAR(64) NOT NULL, "goods_name" VARCHAR(100) NOT NULL, "goods_title" VARCHAR(200) NOT NULL, "goods_dec" TEXT NOT NULL, "goods_price_new" DECIMAL(12, 2) NOT NULL, "goods_price_old" DECIMAL(12, 2) NOT NULL, "goods_xueyuan" VARCHAR(100) NOT NULL, "goods_address" VARCHAR(200) NOT NULL, "state" INTEGER NOT NULL, "reason" TEXT NOT NULL, "issue_time" DATETIME NOT NULL, "open_sum" INTEGER NOT NULL, "deleted" INTEGER NOT NULL, "hidden" INTEGER NOT NULL)',
    'CREATE INDEX "goods_state_deleted_hidden_gid" ON "goods" ("state", "deleted", "hidden", "gid")',
    'CREATE INDEX "goods_openid_deleted_gid" ON "goods" ("openid", "deleted", "gid")',
    'CREATE TABLE "image" ("id" INTEGER NOT NULL PRIMARY KEY, "openid" VARCHAR(64) NOT NULL, "flag" INTEGER NOT NULL, "url" VARCHAR(128) NOT NULL, "thumb" VARCHAR(128) NOT NULL, "gid" INTEGER, "created_at" DATETIME NOT NULL)',
    'CREATE INDEX "image_gid_id" ON "image" ("gid", "id")',
    'CREATE INDEX "image_openid_flag" ON "image" ("openid", "flag")',
    'CREATE TABLE "favourite" ("id" INTEGER NOT NULL PRIMARY KEY, "openid" VARCHAR(64) NOT NULL, "gid" INTEGER NOT NULL, "created_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "favourite_openid_gid" ON "favourite" ("openid", "gid")',
    'CREATE TABLE "search_keyword" ("id" INTEGER NOT NULL PRIMARY KEY, "keyword" VARCHAR(64) NOT NULL, "count" INTEGER NOT NULL, "last_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "search_keyword_keyword" ON "search_keyword" ("keyword")',
    'CREATE INDEX "search_keyword_count" ON "search_keyword" ("count")',
    'CREATE TABLE "comment" ("in_id" INTEGER NOT NULL PRIMARY KEY, "gid" INTEGER NOT NULL, "from_openid" VARCHAR(64) NOT NULL, "content" TEXT NOT NULL, "create_time" DATETIME NOT NULL, "hidden" INTEGER NOT NULL)',
    'CREATE INDEX "comment_gid_in_id" ON "comment" ("gid", "in_id")',
    'CREATE TABLE "reply" ("rid" INTEGER NOT NULL PRIMARY KEY, "comment_id" INTEGER NOT NULL, "from_openid" VARCHAR(64) NOT NULL, "to_openid" VARCHAR(64) NOT NULL, "content" TEXT NOT NULL, "create_time" DATETIME NOT NULL, "hidden" INTEGER NOT NULL)',
    'CREATE INDEX "reply_comment_id_rid" ON "reply" ("comment_id", "rid")',
    'CREATE TABLE "liked" ("id" INTEGER NOT NULL PRIMARY KEY, "openid" VARCHAR(64) NOT NULL, "obj_id" INTEGER NOT NULL, "type" INTEGER NOT NULL, "created_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "liked_openid_obj_id_type" ON "liked" ("openid", "obj_id", "type")',
    'CREATE INDEX "liked_obj_id_type" ON "liked" ("obj_id", "type")',
    'CREATE TABLE "notice" ("id" INTEGER NOT NULL PRIMARY KEY, "openid" VARCHAR(64) NOT NULL, "type" INTEGER NOT NULL, "actor_openid" VARCHAR(64) NOT NULL, "gid" INTEGER, "obj_id" INTEGER, "content" TEXT NOT NULL, "send_time" DATETIME NOT NULL, "read" INTEGER NOT NULL)',
    'CREATE INDEX "notice_openid_type_read_id" ON "notice" ("openid", "type", "read", "id")',
    'CREATE TABLE "chat_list" ("list_id" INTEGER NOT NULL PRIMARY KEY, "to_openid" VARCHAR(64) NOT NULL, "from_openid" VARCHAR(64) NOT NULL, "from_name" VARCHAR(64) NOT NULL, "from_avatar" VARCHAR(512) NOT NULL, "from_status" INTEGER NOT NULL, "last_context" TEXT NOT NULL, "send_time" DATETIME NOT NULL, "unread" INTEGER NOT NULL)',
    'CREATE UNIQUE INDEX "chat_list_to_openid_from_openid" ON "chat_list" ("to_openid", "from_openid")',
    'CREATE INDEX "chat_list_to_openid_send_time" ON "chat_list" ("to_openid", "send_time")',
    'CREATE TABLE "offline_message" ("message_id" INTEGER NOT NULL PRIMARY KEY, "from_openid" VARCHAR(64) NOT NULL, "to_openid" VARCHAR(64) NOT NULL, "content" TEXT NOT NULL, "type" VARCHAR(16) NOT NULL, "client_msg_id" VARCHAR(64), "slot" INTEGER NOT NULL, "send_time" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "offline_message_to_openid_from_openid_slot" ON "offline_message" ("to_openid", "from_openid", "slot")',
    'CREATE UNIQUE INDEX "offline_message_from_openid_client_msg_id" ON "offline_message" ("from_openid", "client_msg_id")',
    'CREATE INDEX "offline_message_to_openid_message_id" ON "offline_message" ("to_openid", "message_id")',
    'CREATE TABLE "admin" ("id" INTEGER NOT NULL PRIMARY KEY, "username" VARCHAR(64) NOT NULL, "passwd" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "admin_username" ON "admin" ("username")',
    'CREATE TABLE "admin_openid" ("id" INTEGER NOT NULL PRIMARY KEY, "openid" VARCHAR(64) NOT NULL, "created_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "admin_openid_openid" ON "admin_openid" ("openid")',
    'CREATE TABLE "admin_notice" ("mid" INTEGER NOT NULL PRIMARY KEY, "notice_info" TEXT NOT NULL, "updated_at" DATETIME NOT NULL)',
    'CREATE TABLE "admin_action" ("id" INTEGER NOT NULL PRIMARY KEY, "actor" VARCHAR(64) NOT NULL, "action" VARCHAR(32) NOT NULL, "target" VARCHAR(64) NOT NULL, "reason" TEXT NOT NULL, "created_at" DATETIME NOT NULL)',
    'CREATE INDEX "admin_action_created_at" ON "admin_action" ("created_at")',
]

MYSQL = [
    'CREATE TABLE `user` (`id` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `openid` VARCHAR(64) NOT NULL, `wxname` VARCHAR(64) NOT NULL, `head_img` VARCHAR(512) NOT NULL, `sex` INTEGER NOT NULL, `uname` VARCHAR(64) NOT NULL, `qq` VARCHAR(32) NOT NULL, `wx` VARCHAR(64) NOT NULL, `school` VARCHAR(64) NOT NULL, `xuehao` VARCHAR(32) NOT NULL, `uclass` VARCHAR(64) NOT NULL, `state` INTEGER NOT NULL, `reason` TEXT NOT NULL, `registered` BOOL NOT NULL, `created_at` DATETIME NOT NULL, `updated_at` DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE UNIQUE INDEX `user_openid` ON `user` (`openid`)',
    'CREATE INDEX `user_state` ON `user` (`state`)',
    'CREATE TABLE `goods` (`gid` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `openid` VARCHAR(64) NOT NULL, `goods_name` VARCHAR(100) NOT NULL, `goods_title` VARCHAR(200) NOT NULL, `goods_dec` TEXT NOT NULL, `goods_price_new` NUMERIC(12, 2) NOT NULL, `goods_price_old` NUMERIC(12, 2) NOT NULL, `goods_xueyuan` VARCHAR(100) NOT NULL, `goods_address` VARCHAR(200) NOT NULL, `state` INTEGER NOT NULL, `reason` TEXT NOT NULL, `issue_time` DATETIME NOT NULL, `open_sum` INTEGER NOT NULL, `deleted` BOOL NOT NULL, `hidden` BOOL NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE INDEX `goods_state_deleted_hidden_gid` ON `goods` (`state`, `deleted`, `hidden`, `gid`)',
    'CREATE INDEX `goods_openid_deleted_gid` ON `goods` (`openid`, `deleted`, `gid`)',
    'CREATE TABLE `image` (`id` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `openid` VARCHAR(64) NOT NULL, `flag` INTEGER NOT NULL, `url` VARCHAR(128) NOT NULL, `thumb` VARCHAR(128) NOT NULL, `gid` INTEGER, `created_at` DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE INDEX `image_gid_id` ON `image` (`gid`, `id`)',
    'CREATE INDEX `image_openid_flag` ON `image` (`openid`, `flag`)',
    'CREATE TABLE `favourite` (`id` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `openid` VARCHAR(64) NOT NULL, `gid` INTEGER NOT NULL, `created_at` DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE UNIQUE INDEX `favourite_openid_gid` ON `favourite` (`openid`, `gid`)',
    'CREATE TABLE `search_keyword` (`id` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `keyword` VARCHAR(64) NOT NULL, `count` INTEGER NOT NULL, `last_at` DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE UNIQUE INDEX `search_keyword_keyword` ON `search_keyword` (`keyword`)',
    'CREATE INDEX `search_keyword_count` ON `search_keyword` (`count`)',
    'CREATE TABLE `comment` (`in_id` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `gid` INTEGER NOT NULL, `from_openid` VARCHAR(64) NOT NULL, `content` TEXT NOT NULL, `create_time` DATETIME NOT NULL, `hidden` BOOL NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE INDEX `comment_gid_in_id` ON `comment` (`gid`, `in_id`)',
    'CREATE TABLE `reply` (`rid` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `comment_id` INTEGER NOT NULL, `from_openid` VARCHAR(64) NOT NULL, `to_openid` VARCHAR(64) NOT NULL, `content` TEXT NOT NULL, `create_time` DATETIME NOT NULL, `hidden` BOOL NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE INDEX `reply_comment_id_rid` ON `reply` (`comment_id`, `rid`)',
    'CREATE TABLE `liked` (`id` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `openid` VARCHAR(64) NOT NULL, `obj_id` INTEGER NOT NULL, `type` INTEGER NOT NULL, `created_at` DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE UNIQUE INDEX `liked_openid_obj_id_type` ON `liked` (`openid`, `obj_id`, `type`)',
    'CREATE INDEX `liked_obj_id_type` ON `liked` (`obj_id`, `type`)',
    'CREATE TABLE `notice` (`id` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `openid` VARCHAR(64) NOT NULL, `type` INTEGER NOT NULL, `actor_openid` VARCHAR(64) NOT NULL, `gid` INTEGER, `obj_id` INTEGER, `content` TEXT NOT NULL, `send_time` DATETIME NOT NULL, `read` BOOL NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE INDEX `notice_openid_type_read_id` ON `notice` (`openid`, `type`, `read`, `id`)',
    'CREATE TABLE `chat_list` (`list_id` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `to_openid` VARCHAR(64) NOT NULL, `from_openid` VARCHAR(64) NOT NULL, `from_name` VARCHAR(64) NOT NULL, `from_avatar` VARCHAR(512) NOT NULL, `from_status` INTEGER NOT NULL, `last_context` TEXT NOT NULL, `send_time` DATETIME NOT NULL, `unread` INTEGER NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE UNIQUE INDEX `chat_list_to_openid_from_openid` ON `chat_list` (`to_openid`, `from_openid`)',
    'CREATE INDEX `chat_list_to_openid_send_time` ON `chat_list` (`to_openid`, `send_time`)',
    'CREATE TABLE `offline_message` (`message_id` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `from_openid` VARCHAR(64) NOT NULL, `to_openid` VARCHAR(64) NOT NULL, `content` TEXT NOT NULL, `type` VARCHAR(16) NOT NULL, `client_msg_id` VARCHAR(64), `slot` INTEGER NOT NULL, `send_time` DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE UNIQUE INDEX `offline_message_to_openid_from_openid_slot` ON `offline_message` (`to_openid`, `from_openid`, `slot`)',
    'CREATE UNIQUE INDEX `offline_message_from_openid_client_msg_id` ON `offline_message` (`from_openid`, `client_msg_id`)',
    'CREATE INDEX `offline_message_to_openid_message_id` ON `offline_message` (`to_openid`, `message_id`)',
    'CREATE TABLE `admin` (`id` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `username` VARCHAR(64) NOT NULL, `passwd` VARCHAR(255) NOT NULL, `created_at` DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE UNIQUE INDEX `admin_username` ON `admin` (`username`)',
    'CREATE TABLE `admin_openid` (`id` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `openid` VARCHAR(64) NOT NULL, `created_at` DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE UNIQUE INDEX `admin_openid_openid` ON `admin_openid` (`openid`)',
    'CREATE TABLE `admin_notice` (`mid` INTEGER NOT NULL PRIMARY KEY, `notice_info` TEXT NOT NULL, `updated_at` DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE TABLE `admin_action` (`id` INTEGER AUTO_INCREMENT NOT NULL PRIMARY KEY, `actor` VARCHAR(64) NOT NULL, `action` VARCHAR(32) NOT NULL, `target` VARCHAR(64) NOT NULL, `reason` TEXT NOT NULL, `created_at` DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    'CREATE INDEX `admin_action_created_at` ON `admin_action` (`created_at`)',
]


def up(database, migrator):
    """Create every table and index."""
    for statement in (MYSQL if is_mysql(database) else SQLITE):
        database.execute_sql(statement)
