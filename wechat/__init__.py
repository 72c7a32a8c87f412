"""WeChat, seen from the IOLoop: the client (login, server token, calls), content checks and
subscribe messages. Their database parts are rules in services/ (wechat_token, content_checks,
subscriptions), run on the database executor."""
