"""bootstrap's factories build each value once, even when worker threads ask at the same moment."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bot.bootstrap import built_once


def test_threads_asking_at_once_share_one_build():
    builds = []
    start = threading.Barrier(8)

    @built_once
    def catalogs():
        builds.append(1)
        time.sleep(0.05)  # long enough for every other thread to ask meanwhile
        return object()

    def ask(_):
        start.wait()
        return catalogs()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, range(8)))
    assert len(builds) == 1 and all(result is results[0] for result in results)


def test_each_argument_is_built_once_and_can_be_cleared():
    builds = []

    @built_once
    def sender(channel):
        builds.append(channel)
        return f"sender for {channel}"

    assert [sender("sms"), sender("sms"), sender("whatsapp")] == ["sender for sms"] * 2 + ["sender for whatsapp"]
    sender.cache_clear()
    sender("sms")
    assert builds == ["sms", "whatsapp", "sms"]
