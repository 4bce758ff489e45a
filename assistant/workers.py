"""Several server processes on one port, each client's connections kept on one of them.

One server process answers on about one core: Gradio's queue and the answer's Python
code hold the GIL (docs/benchmarks.md). ``assistant serve --workers N`` forks N
processes, each a whole server (Gradio page, queue, JSON API, its own
:class:`assistant.service.Assistant`) on its own listening socket, all bound to
the same port with ``SO_REUSEPORT``.

The kernel would spread a client's connections over the processes, but a chat
turn is several requests on several connections (``/gradio_api/queue/join``, then
the event stream ``/gradio_api/queue/data``, which the same process must serve),
so a classic BPF program steers every connection by its client's IPv4 address:
all of one address's connections reach the same process. Clients behind one
address (a NAT or a reverse proxy) therefore share one process: correct, only no
faster than one process.

Each worker notices an index update made by another (the ``CURRENT`` check of
:mod:`assistant.service`), and the update lock is a file, so the processes share
one index; its files are memory-mapped, so their pages are shared too.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import struct
import sys
from collections.abc import Callable

from assistant.errors import AssistantError

logger = logging.getLogger(__name__)

SO_ATTACH_REUSEPORT_CBPF = 51  # linux/asm-generic/socket.h
SKF_NET_OFF = -0x100000  # loads relative to the IP header
IPV4_SOURCE = 12  # offset of the source address in an IPv4 header
BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_ALU_MOD_K = 0x94  # BPF_ALU | BPF_MOD | BPF_K
BPF_RET_A = 0x16  # BPF_RET | BPF_A
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def steering_program(count: int) -> list[tuple[int, int, int, int]]:
    """The classic BPF program: the index of the socket a connection goes to, its source address mod ``count``."""
    return [
        (BPF_LD_W_ABS, 0, 0, (SKF_NET_OFF + IPV4_SOURCE) & 0xFFFFFFFF),
        (BPF_ALU_MOD_K, 0, 0, count),
        (BPF_RET_A, 0, 0, 0),
    ]


def steered_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on ``host:port``; a client's connections all reach the same one.

    Raises:
        AssistantError: the host is not an IPv4 address or name, the port is taken, or the
            kernel refuses the steering program (then run one worker).
    """
    try:
        address = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    except OSError as exc:
        raise AssistantError(
            f"--workers needs an IPv4 address to listen on, not {host!r} (e.g. 127.0.0.1 or 0.0.0.0)"
        ) from exc
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):  # the kernel numbers a port's sockets in the order they listen
            # IPPROTO_TCP named: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say so,
            # and with it on, a response's second write waited ~40 ms for the client's delayed ACK.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(2048)
            sock.set_inheritable(True)
        program = b"".join(struct.pack("HBBI", *op) for op in steering_program(count))
        code = ctypes.create_string_buffer(program)
        fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(code))
        sockets[0].setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise AssistantError(
            f"cannot serve {count} workers on {host}:{port}: {exc.strerror or exc}; is the port taken? "
            "Choose another with --port, or serve with one worker"
        ) from exc
    return sockets


def run_workers(sockets: list[socket.socket], serve_one: Callable[[socket.socket], None]) -> None:
    """Fork one process per socket, each running ``serve_one(its socket)``, and wait for them.

    Call before any engine or thread is started in this process: a forked child inherits
    no threads. SIGINT and SIGTERM are passed on; when one worker ends, the others are stopped.

    Raises:
        AssistantError: a worker ended with an error.
    """
    children: dict[int, int] = {}
    parent = os.getpid()
    for number, sock in enumerate(sockets):
        pid = os.fork()
        if pid == 0:  # the worker
            for other in sockets:
                if other is not sock:
                    other.close()
            code = 0
            try:
                die_with(parent)
                serve_one(sock)
            except KeyboardInterrupt:
                pass
            except AssistantError as exc:
                logger.error("worker %d: %s", number, exc)
                code = 1
            except BaseException:  # noqa: BLE001 - logged, and the worker must not return into the parent's code
                logger.exception("worker %d failed", number)
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = number
    for sock in sockets:
        sock.close()  # the workers hold them now

    def stop(signum: int, _frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(pid, signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    failed = 0
    try:
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            number = children.pop(pid, None)
            if number is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code not in (0, -signal.SIGTERM, -signal.SIGINT):
                failed = failed or code
                logger.error("worker %d ended with exit code %d; stopping the others", number, code)
            stop(signal.SIGTERM, None)  # one gone: its clients would get no answer, so stop all
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        raise AssistantError(f"a server worker failed (exit code {failed}); see the log above")


def die_with(parent: int) -> None:
    """Have the kernel stop this worker (SIGTERM, a graceful stop) when ``parent`` dies.

    A parent stopped by SIGTERM or Ctrl-C stops its workers itself; one killed outright (SIGKILL,
    the OOM killer) cannot, and its workers would go on answering from the port, from an index
    nobody restarts, beside the server that replaces it.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        logger.warning("a worker could not ask to end with its parent: %s", os.strerror(ctypes.get_errno()))
    if os.getppid() != parent:  # the parent died before the request took effect
        raise KeyboardInterrupt


def in_child(work: Callable[[], None]) -> None:
    """Run ``work`` in a forked process and wait for it, so that this process starts no engine or thread.

    Raises:
        AssistantError: ``work`` failed (the child logs why).
    """
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            work()
        except AssistantError as exc:
            logger.error("%s", exc)
            code = 1
        except BaseException:  # noqa: BLE001 - logged; the child must not return into the parent's code
            logger.exception("failed")
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise AssistantError("could not prepare the index for the workers; see the log above")
