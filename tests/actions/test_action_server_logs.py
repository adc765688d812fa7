"""The action server's logs, run as `python -m bot up` runs it: no dates of birth, ZIP codes or card numbers."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.log_redaction import install_log_redaction
from tests.twilio_fakes import free_port

ROOT = Path(__file__).resolve().parents[2]
TYPED = "born 3/4/1985, ZIP 94110, card 4242 4242 4242 4242"
SECRETS = ("3/4/1985", "94110", "4242 4242 4242 4242")


def wait_until_up(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the action server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)


def test_a_request_carrying_what_the_consumer_typed_leaves_none_of_it_in_the_action_servers_log(tmp_path):
    port, log = free_port(), tmp_path / "actions.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
                                  cwd=ROOT, env=dict(os.environ, SANIC_HOST="127.0.0.1"), stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", server, log)
        call = json.dumps({"next_action": f"action_{TYPED}", "tracker": {"sender_id": "logs"}}).encode()
        with pytest.raises(urllib.error.HTTPError) as refused:  # no such action: logged at ERROR with its name
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data=call), timeout=30)
        assert refused.value.code == 404
    finally:
        server.terminate()
        server.wait(30)
    logged = log.read_text()
    assert "No registered action found for name 'action_born [date], ZIP [zip], card [card number removed]'" in logged
    assert not any(secret in logged for secret in SECRETS)


def test_an_exception_logged_with_its_traceback_loses_them_too():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    install_log_redaction([handler])
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    try:
        raise ValueError(f"could not read '{TYPED}'")
    except ValueError:
        logger.exception("an action failed")
    finally:
        logger.removeHandler(handler)
    logged = stream.getvalue()
    assert "ValueError: could not read 'born [date], ZIP [zip], card [card number removed]'" in logged
    assert not any(secret in logged for secret in SECRETS)
