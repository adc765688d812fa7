"""The race bursts of test_scaled_out.py against Rasa 3.6's stock RedisLockStore (`LOCK_STORE=rasa`).

Two real Rasa servers behind the balancer, Redis a network hop away: the stock store issues a ticket
by reading the lock, appending in Python and writing it back, so both servers take one conversation
at once and the later tracker save drops the other turn's events, or a finished ticket is written back
and the conversation's next messages wait for it to expire.
The atomic store loses none of the same bursts (test_bursts_with_redis_a_network_hop_away_lose_nothing).
"""
from __future__ import annotations

import pytest

from tests.scaleout.conftest import PORT_BASE, DelayingProxy, require
from tests.scaleout.test_scaled_out import RACE_CONVERSATIONS, race, running_stack

pytestmark = [pytest.mark.scaleout, pytest.mark.e2e]

# Ports of this checkout: + 33 (the proxy in front of the shared Redis), 35..37, 85, 3030.
STOCK_BASE = PORT_BASE + 30


@pytest.fixture(scope="module")
def stock_proxy():
    require("redis")
    proxy = DelayingProxy(PORT_BASE + 33, 6379, db=13).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def stock(tmp_path_factory, stock_proxy):
    with running_stack(tmp_path_factory.mktemp("stock"), STOCK_BASE, stock_proxy.url, lock_store="rasa") as stack:
        yield stack


def test_rasa_stock_redis_lock_store_loses_duplicates_or_strands_messages_of_the_same_bursts(stock, stock_proxy):
    # A race, so it shows in some bursts, not every one: 4 bursts once showed nothing once the
    # message path got faster; 12 give it three times the chances. A ticket the race wrote back after
    # its message was done holds the conversation until the ticket expires (60 s), so a message may
    # also go unanswered.
    lost, duplicated, unanswered = race(stock, stock_proxy, conversations=3 * RACE_CONVERSATIONS)
    assert lost + duplicated + unanswered > 0
