"""The bus `chat.bus` names (kept apart from both buses, so neither imports the other's module
back)."""
from realtime.bus import LocalBus
from realtime.redis_bus import RedisBus


def make_bus(config):
    if config["chat"]["bus"] == "redis":
        return RedisBus(config["redis"]["url"], config["redis"]["presence_ttl"])
    return LocalBus()
