"""Several Sanic workers in one Rasa server (`SANIC_WORKERS`): each on its own socket, each with its share of the cores.

- Several Sanic workers share one listening socket in Sanic 21.12, and asyncio accepts every waiting
  connection at once: the first worker awake takes a whole burst of new connections and keeps them
  (HTTP keep-alive), while the other idles. Eight consumers starting together all landed on one of
  two workers. Here each worker listens on a socket of its own on the same port (SO_REUSEPORT), and
  the kernel spreads new connections across them; a worker that stops stops the server, so that it
  is started again whole. A worker's socket starts listening only once its model is loaded: the
  kernel gives connections to listening sockets alone, so none waits in the queue of a worker
  still loading while another answers.
- TensorFlow in each Sanic worker runs as many threads as the machine has cores, so workers
  compete for them; here each worker's TensorFlow gets its share of the cores
  (`tensorflow_threads_per_worker`), unless the thread counts are set.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
from typing import Any, Dict, List

import sanic.app

logger = logging.getLogger(__name__)

_sanics_serve_multiple = sanic.app.serve_multiple


def serve_workers_on_their_own_sockets(server_settings: Dict[str, Any], workers: int) -> None:
    """Sanic 21.12's `serve_multiple`, with a listening socket per worker instead of one they share."""
    host, port = server_settings.get("host"), server_settings.get("port")
    if server_settings.get("sock") is not None or server_settings.get("unix") or not port \
            or not hasattr(socket, "SO_REUSEPORT"):
        return _sanics_serve_multiple(server_settings, workers)
    from sanic.server.events import trigger_events
    from sanic.server.runners import serve

    sockets = [reuse_port_socket(host, port) for _ in range(workers)]  # each worker's server listens on it
    settings = dict(server_settings, reuse_port=True, run_multiple=True, host=None, port=None)
    main_start, main_stop = settings.pop("main_start", None), settings.pop("main_stop", None)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    trigger_events(main_start, loop)
    fork = multiprocessing.get_context("fork")
    processes = [fork.Process(target=serve, kwargs=dict(settings, sock=sock), daemon=True) for sock in sockets]

    def stop_workers(signal_number: int, _frame: Any) -> None:
        logger.info("Received signal %s. Shutting down.", signal.Signals(signal_number).name)
        terminate(processes)

    signal.signal(signal.SIGINT, stop_workers)
    signal.signal(signal.SIGTERM, stop_workers)
    for process in processes:
        process.start()
    # A worker that stops leaves its socket's connections unanswered: the others stop too, and the
    # server exits, so that whatever runs it (`python -m bot up`) starts it again.
    multiprocessing.connection.wait([process.sentinel for process in processes])
    terminate(processes)
    for process in processes:
        process.join()
    trigger_events(main_stop, loop)
    for sock in sockets:
        sock.close()
    loop.close()


def terminate(processes: List[Any]) -> None:
    for process in processes:
        if process.pid is not None and process.exitcode is None:
            try:
                os.kill(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to the port, which other sockets of this user may bind to too; not yet listening.

    Sanic's server calls `listen` on it after its `before_server_start` listeners, where Rasa loads the model.
    """
    family = socket.AF_INET6 if ":" in (host or "") else socket.AF_INET
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
    sock.set_inheritable(True)
    return sock


def tensorflow_threads_per_worker(environ: Dict[str, str]) -> None:
    """Each Sanic worker's TensorFlow gets its share of the cores, unless its thread counts are set.

    Left alone, each worker's TensorFlow runs as many threads as the machine has cores, and with one
    worker per core they compete for them. On 2 cores with 2 workers, in four alternating pairs of
    runs (40 journeys at concurrency 8 each), one thread per worker used 2-20% less of the Rasa
    server's CPU per message, and answered as many or up to 15% more messages per second.
    """
    workers = max(1, int(environ.get("SANIC_WORKERS") or 1))
    share = str(max(1, (os.cpu_count() or 1) // workers))
    for variable in ("TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS"):
        environ.setdefault(variable, share)


def install() -> None:
    sanic.app.serve_multiple = serve_workers_on_their_own_sockets
