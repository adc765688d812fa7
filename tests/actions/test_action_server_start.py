"""The action server, run as `python -m bot up` runs it, builds the actions' services before it serves."""
from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import create_engine, inspect

from tests.actions.test_action_server_logs import ROOT, wait_until_up
from tests.twilio_fakes import free_port


def test_the_action_server_is_up_only_once_its_services_are_built(tmp_path):
    port, log, ledger = free_port(), tmp_path / "actions.log", tmp_path / "ledger.db"
    env = dict(os.environ, SANIC_HOST="127.0.0.1", DATABASE_URL=f"sqlite:///{ledger}", SECRET_KEY="start-up-test")
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", server, log)
        # No action has run yet: the ledger is migrated and the services built all the same.
        assert {"accounts", "payment_requests"} <= set(inspect(create_engine(f"sqlite:///{ledger}")).get_table_names())
        logged = log.read_text()
    finally:
        server.terminate()
        server.wait(30)
    assert "built the actions' services in" in logged
    assert "could not build" not in logged
