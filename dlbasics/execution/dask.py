"""Members as Dask tasks: on a `distributed.LocalCluster` or on a running cluster of many machines.

    pip install 'dlbasics[dask]'
    dlb sweep CONFIG --set optimizer.lr=1e-3,1e-2 --executor dask              # a LocalCluster of --jobs workers
    dlb sweep CONFIG ... --executor dask://scheduler-host:8786                  # a running cluster
    DLB_DASK_SCHEDULER=tcp://scheduler-host:8786 dlb sweep CONFIG ... --executor dask

Each member is one task running :func:`~dlbasics.execution.run_task` in a worker process with one BLAS thread,
so its numbers are those of the local executor, bit for bit. Run folders are written by the workers straight
into ``--runs-dir`` when every machine sees it (a shared file system), or, with ``collect=True``, in a
temporary folder on the worker whose files are sent back and written by this process atomically.

Ctrl-C sets a Dask ``Event`` that every running member checks after each epoch: they end "interrupted" and
report, the tasks not started are cancelled. A worker that dies is replaced by the cluster and its member is
run again elsewhere (Dask's own retries); the earlier attempt's folder is replaced.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .task import ExecutorError, Task, TaskResult

EXTRA = "pip install 'dlbasics[dask]'"
#: seconds to reach a scheduler before giving up
CONNECT_TIMEOUT_S = 6
#: seconds the members get to stop after a Ctrl-C
STOP_GRACE_S = 30.0


def _dask_task(task: Task, stop: str, collect: bool) -> tuple[TaskResult, dict[str, bytes] | None] | None:
    """On a Dask worker: train one member; stop (interrupted) when the Event ``stop`` is set, and do not start
    at all (None) when it is set already."""
    from distributed import Event

    from .. import runner
    from .worker import run_task

    event = Event(stop)
    if _stopped(event):
        return None
    if runner._DATASETS is None:
        runner.cache_datasets()

    def check(row: dict[str, Any]) -> None:
        if _stopped(event):
            raise KeyboardInterrupt("Ctrl-C in dlb")

    if not collect:
        return run_task(task, check), None
    scratch = Path(tempfile.mkdtemp(prefix="dlb-"))
    try:
        local = replace(task, run_dir=scratch / Path(task.run_dir).name)
        result = run_task(local, check)
        files = {str(p.relative_to(local.run_dir)): p.read_bytes() for p in sorted(local.run_dir.rglob("*"))
                 if p.is_file()} if local.run_dir.is_dir() else {}
        result.task = task
        return result, files
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _stopped(event: Any) -> bool:
    """The client asked the members to stop, or can no longer be asked (the scheduler is gone)."""
    try:
        return bool(event.is_set())
    except Exception:
        return True


def _write_back(run_dir: Path, files: dict[str, bytes]) -> None:
    """The files a worker sent, written under ``run_dir`` atomically (summary.json last)."""
    from ..execution.worker import is_run_folder
    from ..runs.folder import atomic_write

    if run_dir.exists():
        if not is_run_folder(run_dir):
            raise FileExistsError(f"{run_dir} exists and is not a run folder; not overwriting it")
        shutil.rmtree(run_dir)
    for name in sorted(files, key=lambda n: n == "summary.json"):
        target = run_dir / name
        if not target.resolve().is_relative_to(run_dir.resolve()):
            raise ValueError(f"a worker sent a file outside its run folder: {name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, files[name])


_CLUSTER = """
import sys
from distributed import LocalCluster
cluster = LocalCluster(n_workers=int(sys.argv[1]), threads_per_worker=1, processes=True, dashboard_address=":0",
                       silence_logs=50)
print(cluster.scheduler_address, flush=True)
sys.stdin.read()  # until the client's process closes it (or dies)
cluster.close()
"""


def _local_cluster(jobs: int, timeout: float) -> tuple[subprocess.Popen, str]:
    """A LocalCluster of ``jobs`` single-threaded worker processes, run by a helper process in a session of its
    own: the terminal's Ctrl-C reaches only `dlb`, which stops the members itself (through the Event) rather
    than having Dask's processes die under them. Returns the helper and the scheduler's address."""
    proc = subprocess.Popen([sys.executable, "-c", _CLUSTER, str(jobs)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout)
    address = proc.stdout.readline().strip() if ready else ""
    if not address:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise ExecutorError(f"the local Dask cluster did not start within {timeout:g} s")
    return proc, address


def _connect(address: str, timeout: float) -> Any:
    """A Client of the scheduler at ``address``, within ``timeout`` seconds whatever answers there (a web server,
    a black hole): the connection runs in a thread that is abandoned at the deadline."""
    import threading

    from distributed import Client

    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = Client(address, timeout=f"{timeout}s")
        except BaseException as err:  # handed to the caller below
            box["error"] = err

    thread = threading.Thread(target=connect, name="dlb-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout + 1)
    if "client" in box:
        return box["client"]
    why = " ".join(str(box["error"]).split())[:120] if "error" in box else "no answer"
    raise ExecutorError(f"no Dask scheduler answered at {address} within {timeout:g} s ({why})")


class DaskExecutor:
    """Members as tasks of a Dask cluster: ``address`` of a running scheduler, or a new LocalCluster of ``jobs``
    single-threaded worker processes. Use as a context manager (or call ``close``) to shut a LocalCluster down."""

    def __init__(self, address: str | None = None, jobs: int | None = None, collect: bool = False):
        try:
            import distributed  # noqa: F401  (only to fail early, with the extra's name)
        except ImportError:
            raise ExecutorError(f"the dask executor needs the dask extra: {EXTRA}") from None
        from .local import default_jobs

        self.address = address or os.environ.get("DLB_DASK_SCHEDULER") or None
        self.jobs = max(1, jobs or default_jobs())
        self.collect = collect
        self._client: Any = None
        self._cluster: subprocess.Popen | None = None

    def client(self) -> Any:
        """The Dask client, connected on first use (ExecutorError for a scheduler that does not answer)."""
        if self._client is not None:
            return self._client
        timeout = float(os.environ.get("DLB_DASK_TIMEOUT", CONNECT_TIMEOUT_S))
        if self.address:
            self._client = _connect(self.address, timeout)
        else:
            self._cluster, address = _local_cluster(self.jobs, timeout + 20)
            self._client = _connect(address, timeout)
        return self._client

    connect = client

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        if self._cluster is not None:  # the local cluster's process: it shuts the cluster down when stdin closes
            with contextlib.suppress(OSError):
                self._cluster.stdin.close()
            try:
                self._cluster.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(self._cluster.pid, signal.SIGKILL)
                self._cluster.wait()
        self._client = self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def run(self, tasks: Sequence[Task], on_done: Callable[[TaskResult], None] | None = None,
            on_progress: Callable[[Task, dict[str, Any]], None] | None = None) -> list[TaskResult]:
        """Submit every task; ``on_done`` as each ends (no per-epoch progress from remote workers)."""
        from distributed import Event, as_completed, wait

        from .local import record

        client = self.client()
        stop = Event(f"dlb-stop-{uuid.uuid4().hex}", client=client)
        prepared = [replace(t, config={**t.config, "train": {**t.config["train"], "threads": 1}},
                            run_dir=Path(t.run_dir).absolute()) for t in tasks]
        t0 = time.perf_counter()
        futures = [client.submit(_dask_task, task, stop.name, self.collect, pure=False,
                                 key=f"dlb-{i}-{uuid.uuid4().hex[:8]}") for i, task in enumerate(prepared)]
        index = {f.key: i for i, f in enumerate(futures)}
        results: dict[int, TaskResult] = {}

        def take(future: Any, notify: bool = True) -> None:
            i = index[future.key]
            try:
                outcome = future.result()
                if outcome is None:  # stopped before it started: no folder, no result
                    return
                result, files = outcome
                if files is not None:
                    _write_back(prepared[i].run_dir, files)
            except Exception as err:  # a task that raised, a worker lost too often, a file that cannot be written
                from ..errors import one_line

                result = TaskResult(prepared[i], "failed", {}, f"dask: {one_line(err)}",
                                    time.perf_counter() - t0)
            record(result)
            results[i] = result
            if on_done is not None and notify:
                on_done(result)

        try:
            for future in as_completed(futures):
                take(future)
        except BaseException:
            stop.set()  # running members end "interrupted" after their epoch; queued ones do not start
            unfinished = [f for f in futures if index[f.key] not in results]
            with contextlib.suppress(Exception):
                wait(unfinished, timeout=STOP_GRACE_S)
            for f in unfinished:
                if f.done():
                    with contextlib.suppress(Exception):
                        take(f, notify=False)
            client.cancel([f for f in unfinished if not f.done()])
            raise
        return [results[i] for i in range(len(tasks))]
