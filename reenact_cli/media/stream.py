"""Three-stage streaming: decode | process | encode, with flat memory.

:func:`run_pipeline` iterates ``frames`` in a *decode* thread, calls ``process``
in the calling thread (models often need to stay there), and hands results to
``sink`` in a *sink* thread (typically ``VideoWriter.write``, which feeds an
ffmpeg process). Bounded queues join the stages, so at most about
``2 * queue_size + 3`` items exist at once, however long the stream.

Failure rules:

* The first exception in any stage (KeyboardInterrupt included) is re-raised in
  the caller, as the same object with its original traceback, as soon as the
  calling thread next hands over or asks for an item (at once if it is waiting;
  after the current ``process`` call otherwise). Items still queued are dropped:
  no item after a failure reaches ``sink``.
* The other stages are then stopped: the decode thread stops taking items and
  closes the ``frames`` iterator (a generator's ``finally`` runs, so a decoder
  process is killed); the sink thread stops calling ``sink``. Both are joined
  before the exception leaves :func:`run_pipeline` (a stage stuck inside one
  blocking call for over ``join_timeout`` seconds is abandoned; threads are
  daemons, so they never keep the interpreter alive).
* Ctrl-C arrives in the calling thread (Python's rule), and is handled the
  same way: nothing hangs waiting on a full or empty queue.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

#: Seconds between checks for a failure elsewhere while waiting on a queue.
_POLL = 0.05


@dataclass(frozen=True)
class PipelineStats:
    """What :func:`run_pipeline` did: ``items`` that went through all three
    stages; ``seconds`` of wall time; ``wait_input_s`` seconds the calling thread
    waited for the decoder (large: decode-bound); ``wait_output_s`` seconds it
    waited for room in the sink's queue (large: encode-bound)."""

    items: int
    seconds: float
    wait_input_s: float
    wait_output_s: float


class _End:
    """End-of-stream marker."""


_END = _End()


class _Shared:
    """State shared by the three stages: the stop flag and the first failure."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.error: BaseException | None = None

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = exc
        self.stop.set()

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error


def _put_until_stopped(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item``; False (item dropped) once ``stop`` is set."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def run_pipeline(
    frames: Iterable[T],
    process: Callable[[T], U],
    sink: Callable[[U], None],
    queue_size: int = 8,
    on_progress: Callable[[int], None] | None = None,
    join_timeout: float = 10.0,
) -> PipelineStats:
    """Run ``sink(process(x))`` for every ``x`` of ``frames``, in order, three stages at once.

    Args:
        frames: items to process, iterated lazily in a decode thread (e.g. a
            :class:`~reenact_cli.media.video.DriverStream`).
        process: called in the calling thread, once per item, in order.
        sink: called in a sink thread, once per result, in order.
        queue_size: capacity of each of the two queues (items), >= 1.
        on_progress: called in the calling thread after each item is processed,
            with the number of items processed so far.
        join_timeout: seconds to wait for each helper thread to stop after a failure.

    Returns:
        :class:`PipelineStats`.

    Raises:
        Whatever a stage raised first (see the module notes).
    """
    if queue_size < 1:
        raise ValueError("queue_size must be >= 1")
    shared = _Shared()
    inq: queue.Queue = queue.Queue(maxsize=queue_size)
    outq: queue.Queue = queue.Queue(maxsize=queue_size)

    def decode() -> None:
        it = None
        try:
            it = iter(frames)
            for item in it:
                if not _put_until_stopped(inq, item, shared.stop):
                    return
                del item
            _put_until_stopped(inq, _END, shared.stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            shared.fail(exc)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - a failure is being reported already
                    pass

    def drain() -> None:
        try:
            while True:
                try:
                    item = outq.get(timeout=_POLL)
                except queue.Empty:
                    if shared.stop.is_set():
                        return
                    continue
                if item is _END or shared.stop.is_set():
                    return
                sink(item)
                del item
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            shared.fail(exc)

    decoder = threading.Thread(target=decode, name="reenact-decode", daemon=True)
    writer = threading.Thread(target=drain, name="reenact-sink", daemon=True)
    start = time.perf_counter()
    wait_in = wait_out = 0.0
    done = 0
    decoder.start()
    writer.start()
    try:
        while True:
            t0 = time.perf_counter()
            while True:
                shared.raise_if_failed()
                try:
                    item = inq.get(timeout=_POLL)
                    break
                except queue.Empty:
                    continue
            wait_in += time.perf_counter() - t0
            if item is _END:
                break
            result = process(item)
            del item
            t0 = time.perf_counter()
            while True:
                shared.raise_if_failed()
                try:
                    outq.put(result, timeout=_POLL)
                    break
                except queue.Full:
                    continue
            wait_out += time.perf_counter() - t0
            del result
            done += 1
            if on_progress is not None:
                on_progress(done)
        t0 = time.perf_counter()
        while True:
            shared.raise_if_failed()
            try:
                outq.put(_END, timeout=_POLL)
                break
            except queue.Full:
                continue
        while writer.is_alive():
            writer.join(_POLL)
        shared.raise_if_failed()
        wait_out += time.perf_counter() - t0
        return PipelineStats(done, time.perf_counter() - start, wait_in, wait_out)
    except BaseException as exc:
        shared.fail(exc)  # (a no-op when it came from another stage)
        raise
    finally:
        shared.stop.set()
        decoder.join(join_timeout)
        writer.join(join_timeout)
