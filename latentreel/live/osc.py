"""OSC in and out (python-osc over UDP).

In: one server thread parses datagrams and appends each message to the Inbox; it never
touches the walk, so a flood of messages costs the frame thread nothing but the drain.
Messages to any address are passed on, so the frame thread refuses unknown ones with the
rest (counted, logged once per address). Out: `/latentreel/loop` at each cycle's end and
`/latentreel/keyframe NAME` as each keyframe is reached, fire-and-forget UDP: a listener
that is not there yet never slows a frame.
"""

from __future__ import annotations

import threading
import time

from latentreel.errors import BadInputError
from latentreel.live.inbox import Inbox
from latentreel.live.state import Control


class OscServer:
    """Context manager: listens on ``host:port`` (0: an ephemeral port, see ``.port``)."""

    def __init__(self, host: str, port: int, inbox: Inbox):
        """Bind now (a port in use is one line before any work); serve from ``__enter__``.

        Raises:
            BadInputError: the address cannot be listened on.
        """
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import BlockingOSCUDPServer

        self.host, self.inbox = host, inbox
        self.received = 0
        # strict_timing off: python-osc would otherwise sleep on its one thread until a
        # bundle's timetag, so one far-future bundle would silence OSC for good.
        dispatcher = Dispatcher(strict_timing=False)
        dispatcher.set_default_handler(self._handle)
        try:
            # Blocking: one thread handles every datagram (a threading server would start a
            # thread per message, and a storm would start thousands).
            self._server = BlockingOSCUDPServer((host, port), dispatcher)
        except OSError as e:
            raise BadInputError(f"--osc {host}:{port}: cannot listen there "
                                f"({e.strerror or e}); pick another port or --osc-host") \
                from None
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    def __enter__(self) -> OscServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={
            "poll_interval": 0.1}, daemon=True, name="live-osc")
        self._thread.start()
        return self

    def _handle(self, address: str, *args) -> None:
        self.received += 1
        self.inbox.put(Control(address, tuple(args), time.perf_counter()))

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=2)
        self._server.server_close()


def parse_host_port(text: str, option: str) -> tuple[str, int]:
    """'HOST:PORT' -> (host, port).

    Raises:
        BadInputError: not HOST:PORT with a port in 1-65535.
    """
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadInputError(f"{option} {text!r}: give HOST:PORT, e.g. 127.0.0.1:9001")
    return host, int(port)


class OscOut:
    """Sends the performance's events to ``host:port``."""

    def __init__(self, host: str, port: int):
        from pythonosc.udp_client import SimpleUDPClient

        self._client = SimpleUDPClient(host, port)
        self.sent = self.failed = 0

    def send(self, event: tuple[str, ...]) -> None:
        try:
            self._client.send_message(f"/latentreel/{event[0]}", list(event[1:]))
            self.sent += 1
        except OSError:  # nobody listening (ICMP refused) or the network is down: not ours
            self.failed += 1

    def close(self) -> None:
        self._client._sock.close()
