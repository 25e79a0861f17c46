"""The server's side of one worker process: the process, its three queues, and two drains.

Each worker gets queues of its own (commands down; reliable and lossy up), so that a worker
killed in the middle of a write can only ever corrupt its own queues, which die with it. Two
threads per worker read the queues up and hand every message to one callback. What runs inside
the process is :mod:`citybrain.runtime.worker_process`.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import queue
import threading
from collections.abc import Callable
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.queues import Queue

from citybrain.runtime.messages import Shutdown, WorkerCommand, WorkerMessage
from citybrain.runtime.worker_process import WorkerOptions, worker_main

__all__ = ["LOSSY_QUEUE_SIZE", "RELIABLE_QUEUE_SIZE", "MessageHandler", "WorkerHandle"]

log = logging.getLogger(__name__)

#: Events and counts waiting to be read; a full queue makes the camera threads wait.
RELIABLE_QUEUE_SIZE = 1000
#: Health and frames waiting to be read; beyond this they are dropped.
LOSSY_QUEUE_SIZE = 64

#: Called with the worker's slot and each message it sent.
MessageHandler = Callable[[int, WorkerMessage], None]


class WorkerHandle:
    """Starts one worker process and reads what it sends (verb: :meth:`send` commands).

    Args:
        options: the worker's settings (its slot is ``options.index``).
        handler: receives every message from the worker, on one of the drain threads.
        context: the ``spawn`` multiprocessing context.
    """

    def __init__(
        self,
        options: WorkerOptions,
        handler: MessageHandler,
        context: SpawnContext | None = None,
    ) -> None:
        self.index = options.index
        self._handler = handler
        ctx = context or multiprocessing.get_context("spawn")
        self._commands: Queue[WorkerCommand] = ctx.Queue()
        self._reliable: Queue[WorkerMessage] = ctx.Queue(RELIABLE_QUEUE_SIZE)
        self._lossy: Queue[WorkerMessage] = ctx.Queue(LOSSY_QUEUE_SIZE)
        self.process: SpawnProcess = ctx.Process(
            target=worker_main,
            args=(options, self._commands, self._reliable, self._lossy),
            name=f"citybrain-worker-{options.index}",
            daemon=True,
        )
        # One lock per drain, held while it hands a message on: the drains never wait for
        # each other, and retire() waits for both.
        self._handing = {"reliable": threading.Lock(), "lossy": threading.Lock()}
        self._retired = False
        queues = {"reliable": self._reliable, "lossy": self._lossy}
        self._drains = [
            threading.Thread(
                target=self._drain,
                args=(q, self._handing[kind]),
                name=f"worker-{self.index}-{kind}",
                daemon=True,
            )
            for kind, q in queues.items()
        ]
        self.ready = False

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def start(self) -> None:
        self.process.start()
        for drain in self._drains:
            drain.start()

    def send(self, command: WorkerCommand) -> None:
        """Queue ``command`` for the worker (it reads commands in order)."""
        self._commands.put(command)

    def stop(self, timeout: float = 20.0) -> None:
        """Ask the worker to stop its cameras and exit; kill it after ``timeout`` seconds.

        Returns once the worker is gone and everything it sent has been handed on.
        """
        if self.process.is_alive():
            self._commands.put(Shutdown())
            self.process.join(timeout)
        if self.process.is_alive():
            log.error("worker %d did not stop in %.0f s: killing it", self.index, timeout)
            self.process.kill()
            self.process.join(5.0)
        self.join_drains()

    def retire(self) -> None:
        """Hand on nothing more from this worker (its death was dealt with: a message that
        comes later must not reopen what was closed for it). Waits for one being handed on."""
        with self._handing["reliable"], self._handing["lossy"]:
            self._retired = True

    def join_drains(self, timeout: float = 10.0) -> None:
        """Wait until the drains have handed on everything a dead worker left in its queues."""
        for drain in self._drains:
            if drain.is_alive():
                drain.join(timeout)
        for q in (self._commands, self._reliable, self._lossy):
            q.close()
            # Nothing waits on our side for these queues' feeders once the worker is gone.
            q.cancel_join_thread()

    def _drain(self, source: Queue[WorkerMessage], handing: threading.Lock) -> None:
        while True:
            try:
                message = source.get(timeout=0.2)
            except queue.Empty:
                if self.process.exitcode is not None:
                    return  # the worker is gone and its queue is empty
                continue
            except (EOFError, OSError, ValueError, pickle.UnpicklingError) as exc:
                # A worker killed mid-write leaves a torn message behind; its queue dies with it.
                log.warning("worker %d: queue unreadable (%s); dropping it", self.index, exc)
                return
            with handing:
                if self._retired:
                    log.warning("worker %d: %s after its end dropped", self.index,
                                type(message).__name__)  # fmt: skip
                    return
                try:
                    self._handler(self.index, message)
                except Exception:
                    log.exception(
                        "worker %d: handling %s failed", self.index, type(message).__name__
                    )
