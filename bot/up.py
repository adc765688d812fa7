"""`python -m bot up`: every service of the assistant in the foreground, stopped together by Ctrl-C."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from bot.config import Settings
from bot.training import ensure_model

STARTUP_TIMEOUT_SECONDS = 180  # per Rasa server: each loads the model (STARTUP_TIMEOUT_SECONDS overrides)


@dataclass
class Service:
    name: str
    command: List[str]
    health_url: Optional[str]  # None: up once the process runs
    env: Dict[str, str]
    process: Optional[subprocess.Popen] = None


def runtime_endpoints(settings: Settings) -> dict:
    """Rasa's endpoints for this run, from the environment (see README: Configuration, docs/scaling.md)."""
    from bot.events_consumer import pika_broker_settings

    endpoints = {
        # No action reads Rasa's domain: sending it (about 30 kB of JSON) with every call is wasted work.
        "action_endpoint": {"url": settings.action_endpoint_url or f"http://127.0.0.1:{settings.actions_port}/webhook",
                            "enable_selective_domain": True},
        "nlg": {"type": "bot.adapters.nlg.CatalogNLG"},  # rendered inside Rasa: no HTTP hop per message
        "event_broker": (pika_broker_settings(settings.event_broker_url) if settings.event_broker_url
                         else {"type": "bot.records.LedgerEventBroker"}),
    }
    tracker_store = settings.tracker_store_url or f"sqlite:///{settings.project_root / 'var' / 'tracker.db'}"
    endpoints["tracker_store"] = sql_tracker_store(tracker_store)
    endpoints["lock_store"] = (lock_store(settings.lock_store_url, settings.lock_store_kind) if settings.lock_store_url
                               else {"type": "bot.adapters.local_lock_store.LocalLockStore"})
    return endpoints


def lock_store(url: str, kind: str = "atomic") -> dict:
    """The atomic Redis lock store (bot/adapters/lock_store.py); `kind="rasa"`: Rasa's own, for comparison."""
    if kind == "atomic":
        return {"type": "bot.adapters.lock_store.AtomicRedisLockStore", "url": url}
    if kind != "rasa":
        raise ValueError(f"LOCK_STORE must be 'atomic' or 'rasa', got {kind!r}")
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return {"type": "redis", "url": parts.hostname or "127.0.0.1", "port": parts.port or 6379,
            "db": int(parts.path.strip("/") or 0)}


def sql_tracker_store(url: str) -> dict:
    """Our SQL tracker store (redacting, loud on failure: bot/adapters/tracker_store.py) from a database URL."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    store = {"type": "bot.adapters.tracker_store.GuardedSQLTrackerStore", "dialect": parsed.drivername,
             "db": parsed.database}
    for key, value in (("url", parsed.host), ("port", parsed.port), ("username", parsed.username),
                       ("password", parsed.password)):
        if value:
            store[key] = value
    return store


def write_runtime_endpoints(settings: Settings) -> Path:
    path = settings.project_root / "var" / "runtime" / "endpoints.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(runtime_endpoints(settings), sort_keys=False))
    return path


def rasa_ports(settings: Settings, instances: int) -> List[int]:
    """One server answers on RASA_PORT; several listen on the ports after it, behind the balancer there."""
    if instances <= 1:
        return [settings.rasa_port]
    return [settings.rasa_port + 1 + n for n in range(instances)]


def services(settings: Settings, model: Path, endpoints: Path, rasa_token: str, instances: int = 1) -> List[Service]:
    python = sys.executable
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", SANIC_HOST=settings.bind_host,
               PYTHONUNBUFFERED="1")
    backend_origin = f"http://localhost:{settings.backend_port}"
    running = [
        Service("actions", [python, "-m", "rasa_sdk", "--actions", "actions", "--port",
                            str(settings.actions_port)],
                f"http://127.0.0.1:{settings.actions_port}/health", env),
        Service("backend", [python, "-m", "bot", "backend"],
                f"http://127.0.0.1:{settings.backend_port}/health", env),
    ]
    ports = rasa_ports(settings, instances)
    for n, port in enumerate(ports):
        running.append(Service(
            "rasa" if len(ports) == 1 else f"rasa-{n + 1}",
            [python, "-m", "bot.rasa_server", "run", "--model", str(model), "--endpoints", str(endpoints),
             "--credentials", "credentials.yml", "--interface", settings.bind_host,
             # The HTTP API serves whole trackers: only callers holding the token get in.
             "--enable-api", "--auth-token", rasa_token,
             "--port", str(port), "--cors", backend_origin,
             "--cors", f"http://127.0.0.1:{settings.backend_port}"],
            f"http://127.0.0.1:{port}/", env))
    if len(ports) > 1:
        upstreams = ",".join(f"http://127.0.0.1:{port}" for port in ports)
        running.append(Service("balancer", [python, "-m", "bot", "balancer", "--host", settings.bind_host,
                                             "--port", str(settings.rasa_port),
                                             "--upstreams", upstreams],
                               f"http://127.0.0.1:{settings.rasa_port}/", env))
    if settings.event_broker_url:
        running.append(Service("events", [python, "-m", "bot", "consume-events"], None, env))
    return running


def start(service: Service, root: Path) -> None:
    service.process = subprocess.Popen(service.command, cwd=root, env=service.env, start_new_session=True)
    print(f"started {service.name} (pid {service.process.pid})", flush=True)


def behind_the_balancer(service: Service) -> bool:
    """One of several Rasa servers: the others carry its conversations while it restarts."""
    return service.name.startswith("rasa-")


def supervise(running: List[Service], root: Path) -> Service:
    """Restart a Rasa server behind the balancer that stopped; return any other service that stopped."""
    while True:
        for service in running:
            if service.process.poll() is None:
                continue
            if not behind_the_balancer(service):
                return service
            print(f"{service.name} stopped (exit code {service.process.returncode}); the balancer sends its "
                  "conversations to the others; restarting it.", flush=True)
            start(service, root)
        time.sleep(1)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def wait_until_healthy(running: List[Service], timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    pending = list(running)
    while pending:
        for service in list(pending):
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited with code {service.process.returncode}")
            if service.health_url is None or healthy(service.health_url):
                pending.remove(service)
        if time.monotonic() > deadline:
            raise RuntimeError(f"not up after {timeout:.0f}s: {', '.join(s.name for s in pending)}")
        time.sleep(0.5)


def stop(running: List[Service], grace: float = 10) -> None:
    for service in running:
        if service.process and service.process.poll() is None:
            os.killpg(service.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for service in running:
        if not service.process:
            continue
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()


def print_urls(settings: Settings, demo_password: Optional[str] = None) -> None:
    backend = f"http://localhost:{settings.backend_port}"
    first_login = (f"  (first run: sign in as demo / {demo_password}; shown once, "
                   "add agents with `python -m bot agent-add NAME`)\n") if demo_password else ""
    print(
        "\nThe assistant is running:\n"
        f"  Web chat        {backend}/chat\n"
        f"  Agent console   {backend}/agent/\n"
        f"  Dashboard       {backend}/agent/dashboard\n"
        f"{first_login}"
        f"  Rasa server     http://localhost:{settings.rasa_port}  (REST: /webhooks/rest/webhook)\n"
        f"  Action server   http://127.0.0.1:{settings.actions_port}\n"
        "Press Ctrl-C to stop everything.\n",
        flush=True,
    )


def prepare(settings: Settings) -> tuple:
    """Migrate the ledger, compile translations, train if needed: everything before the servers start."""
    from bot import bootstrap
    from bot.translations import compile_catalogs

    from bot.agent_commands import ensure_demo_agent

    bootstrap.ledger()
    bootstrap.agent_hours()  # a malformed AGENT_HOURS stops here, before any server starts
    demo_password = ensure_demo_agent()
    compile_catalogs(settings.project_root)
    return ensure_model(settings.project_root), write_runtime_endpoints(settings), demo_password


def startup_timeout(instances: int) -> float:
    configured = os.environ.get("STARTUP_TIMEOUT_SECONDS", "").strip()
    return float(configured) if configured else STARTUP_TIMEOUT_SECONDS * max(1, instances)


def _interrupt(signum, frame) -> None:
    """SIGTERM stops the services the same way Ctrl-C does."""
    raise KeyboardInterrupt


def run(settings: Settings, instances: int = 1) -> int:
    from bot import bootstrap

    several = instances > 1 or int(os.environ.get("SANIC_WORKERS") or 1) > 1
    if several and not settings.lock_store_url:
        print("Several Rasa servers or Sanic workers share conversations through Redis: set LOCK_STORE_URL "
              "(docs/scaling.md).", file=sys.stderr)
        return 2
    model, endpoints, demo_password = prepare(settings)
    running = services(settings, model, endpoints, bootstrap.rasa_api_token(), instances)
    # Explicit handlers: a process started in the background may inherit SIGINT as ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for service in running:
            start(service, settings.project_root)
        wait_until_healthy(running, startup_timeout(instances))
        print_urls(settings, demo_password)
        failed = supervise(running, settings.project_root)
        print(f"{failed.name} stopped (exit code {failed.process.returncode}); stopping the rest.", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    finally:
        stop(running)
