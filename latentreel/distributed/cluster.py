"""Connecting to Ray: a private instance on this machine or an existing cluster, never a hang.

``--ray local`` starts a private Ray instance sized to this machine and always shuts it down;
``auto``, ``host:port`` and ``ray://host:port`` join a running cluster. Ray itself retries an
unreachable head for minutes, so every connection is bounded here: the address is checked
with a plain TCP connection first, and ``ray.init`` runs under a deadline.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from latentreel.errors import BadInputError

INSTALL = "pip install 'latentreel[ray]'"
CLIENT_INSTALL = "pip install 'ray[client]'"


@dataclass(frozen=True)
class RayOptions:
    address: str  # local | auto | host:port | ray://host:port
    workers: int | None = None  # Ray actors to start (default: one per GPU, else one)
    timeout: float = 120.0  # seconds to wait for the cluster, and again for the workers


@dataclass(frozen=True)
class Cluster:
    address: str  # as the user wrote it (for messages)
    cpus: int  # CPUs the cluster offers
    gpus: int  # GPUs the cluster offers
    largest_node_cpus: int  # no actor can ask for more CPUs than one machine has


def import_ray():
    """The ``ray`` module, or a one-line error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise BadInputError(f"--ray needs Ray, which is not installed; install it with: "
                            f"{INSTALL}") from None
    return ray


def parse_address(address: str) -> tuple[str, str | None, int | None]:
    """``(kind, host, port)``; kind is local, auto, gcs (host:port) or client (ray://).

    Raises:
        BadInputError: anything else, with the forms that are accepted.
    """
    address = address.strip()
    if address in ("local", "auto"):
        return address, None, None
    kind, rest = ("client", address[len("ray://"):]) if address.startswith("ray://") \
        else ("gcs", address)
    host, sep, port = rest.rpartition(":")
    if not sep or not host or "/" in rest or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadInputError(f"--ray {address}: not a Ray address; use local, auto, host:port "
                            "(the head's GCS port, 6379 by default) or ray://host:port")
    return kind, host.strip("[]"), int(port)


@contextmanager
def connect(options: RayOptions, *, device: str = "auto") -> Iterator[Cluster]:
    """Connect to (or start) the cluster ``options.address`` names; always disconnects.

    For ``local`` the private instance is shut down on success, error and Ctrl-C alike.

    Raises:
        BadInputError: Ray missing, a malformed or unreachable address, no cluster answering.
    """
    kind, host, port = parse_address(options.address)
    ray = import_ray()
    deadline = time.monotonic() + options.timeout
    if kind == "client":
        import importlib.util

        if importlib.util.find_spec("grpc") is None:
            raise BadInputError(f"--ray {options.address}: ray:// addresses need Ray's client; "
                                f"install it with: {CLIENT_INSTALL} (or use host:port)")
    if host is not None:
        _check_reachable(options.address, host, port, min(10.0, options.timeout))
    try:
        _init(ray, options, kind, device, deadline)
        yield _describe(ray, options.address)
    finally:
        if ray.is_initialized():
            ray.shutdown()


def _check_reachable(address: str, host: str, port: int, timeout: float) -> None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror:
        raise BadInputError(f"--ray {address}: unknown host {host!r}; check the head "
                            "machine's name or IP address") from None
    except OSError as e:
        why = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise BadInputError(f"--ray {address}: cannot reach {host}:{port} ({why}); check the "
                            "address and that `ray start --head` runs there") from None


def _init(ray, options: RayOptions, kind: str, device: str, deadline: float) -> None:
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if kind == "local":
        # A private instance ("local": never an existing cluster's): no dashboard, no usage
        # reports, CPUs limited to this machine's.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        gpus = {"num_gpus": 0} if device == "cpu" else {}
        ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False,
                 **gpus, **quiet)
        return
    address = "auto" if kind == "auto" else options.address
    error = _run_bounded(lambda: ray.init(address=address, **quiet), deadline)
    if error is _TIMED_OUT:
        raise BadInputError(f"--ray {options.address}: no Ray cluster answered within "
                            f"{options.timeout:.0f} s; is this the head's GCS port (6379 by "
                            "default)?")
    if isinstance(error, ConnectionError) and kind == "auto":
        raise BadInputError("--ray auto: no Ray cluster runs on this machine; start one with "
                            "`ray start --head`, give the head's address, or use --ray local")
    if error is not None:
        raise BadInputError(f"--ray {options.address}: cannot join the cluster: "
                            f"{_first_line(error)}")


def _first_line(error: BaseException) -> str:
    """The cause worth reading: Ray wraps an authentication refusal in a generic one."""
    cause = error
    while cause is not None:
        if type(cause).__name__ == "AuthenticationError":
            return ("the cluster uses token authentication and this machine has not got its "
                    "token; copy it (`ray get-auth-token` on the head) into RAY_AUTH_TOKEN")
        cause = cause.__cause__
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


_TIMED_OUT = object()


def _run_bounded(fn, deadline: float):
    """Run ``fn`` in a daemon thread; its exception, None, or _TIMED_OUT after ``deadline``.

    A thread, because ``ray.init`` has no timeout of its own; a daemon one, so a connection
    attempt that never returns cannot keep the process alive.
    """
    outcome: dict = {}

    def target():
        try:
            fn()
            outcome["error"] = None
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            outcome["error"] = e

    thread = threading.Thread(target=target, name="latentreel-ray-connect", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    return outcome.get("error", _TIMED_OUT) if not thread.is_alive() else _TIMED_OUT


def _describe(ray, address: str) -> Cluster:
    resources = ray.cluster_resources()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    largest = max((int(n.get("Resources", {}).get("CPU", 0)) for n in nodes), default=0)
    return Cluster(address=address, cpus=int(resources.get("CPU", 0)),
                   gpus=int(resources.get("GPU", 0)), largest_node_cpus=largest)
