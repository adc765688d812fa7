"""Rasa's endpoints as `python -m bot up` writes them: the environment alone picks the setup."""
import pytest

from bot.config import Settings
from bot.up import rasa_ports, run, runtime_endpoints

SCALED = {"DATABASE_URL": "postgresql://u@db/ledger", "TRACKER_STORE_URL": "postgresql://u:pw@db:5432/rasa",
          "LOCK_STORE_URL": "redis://cache:6379/2", "EVENT_BROKER_URL": "amqp://bob:s%40cret@mq:5672/%2F"}


def test_the_default_is_one_machine_with_sqlite_and_the_ledger_broker():
    endpoints = runtime_endpoints(Settings.from_env({}))
    assert endpoints["tracker_store"]["type"] == "bot.adapters.tracker_store.GuardedSQLTrackerStore"
    assert endpoints["tracker_store"]["dialect"] == "sqlite"
    assert endpoints["event_broker"] == {"type": "bot.records.LedgerEventBroker"}
    assert endpoints["lock_store"] == {"type": "bot.adapters.local_lock_store.LocalLockStore"}


def test_the_scaled_out_setup_from_the_environment():
    endpoints = runtime_endpoints(Settings.from_env(SCALED))
    assert endpoints["tracker_store"] == {
        "type": "bot.adapters.tracker_store.GuardedSQLTrackerStore", "dialect": "postgresql", "db": "rasa",
        "url": "db", "port": 5432, "username": "u", "password": "pw"}
    assert endpoints["lock_store"] == {"type": "bot.adapters.lock_store.AtomicRedisLockStore",
                                       "url": "redis://cache:6379/2"}
    broker = endpoints["event_broker"]
    assert (broker["type"], broker["url"], broker["username"], broker["password"]) == ("pika", "mq", "bob", "s@cret")
    assert broker["queues"] == ["rasa_events"] and broker["exchange_name"] == "rasa-exchange"


def test_rasas_own_lock_store_only_on_request():
    endpoints = runtime_endpoints(Settings.from_env({**SCALED, "LOCK_STORE": "rasa"}))
    assert endpoints["lock_store"] == {"type": "redis", "url": "cache", "port": 6379, "db": 2}


def test_several_servers_listen_after_the_balancers_port():
    settings = Settings.from_env({"RASA_PORT": "7000"})
    assert rasa_ports(settings, 1) == [7000]
    assert rasa_ports(settings, 3) == [7001, 7002, 7003]


def test_rasa_does_not_send_the_domain_with_every_action_call():
    endpoints = runtime_endpoints(Settings.from_env({}))
    assert endpoints["action_endpoint"]["enable_selective_domain"] is True


@pytest.mark.parametrize("instances, workers", [(2, None), (1, "2")])
def test_several_rasa_processes_without_redis_are_refused(monkeypatch, capsys, instances, workers):
    # The local lock store serves one process: a second would handle one conversation's messages at once.
    if workers:
        monkeypatch.setenv("SANIC_WORKERS", workers)
    assert run(Settings.from_env({}), instances=instances) == 2
    assert "LOCK_STORE_URL" in capsys.readouterr().err
