"""How the stock LiteLLM proxy is served on every target: one file, rendered beside config.yaml.

`python llmproxy_launcher.py <litellm CLI arguments>` (locally, in every image, in every
replica) is LiteLLM's own CLI (`litellm --config ...`: config, environment and database
set-up happen as `litellm` does them) up to its call `uvicorn.run(...)`, which is served
here (`run`). It is one module that imports nothing else of llmproxy_ops, so that the build
carries it to any image with LiteLLM in it, the official one included, the way it carries
config.yaml: an upgrade of llmproxy-ops changes the build, and `apply` rolls it out.

What it chooses:
- Garbage collection between two steps of the event loop only, on CPython before 3.12:
  LiteLLM 1.108.7 on CPython 3.11 died with SIGSEGV in `ContextVar.set` under plain + SSE
  load within minutes, with LiteLLM's own CLI, on uvloop and on asyncio's loop, on the host
  venv and in the image (CPython gh-148891, see GC_SAFE_POINTS_VAR; issue 21;
  benchmarks/soak_crash.py counts the deaths, docs/performance.md has the cost).
- The port that was asked for (LLMPROXY_PORT): LiteLLM's CLI silently moves off 4000 when
  it is in use, and a local rollout shares the port with the running proxy on purpose.
- uvicorn workers, each on a SO_REUSEPORT listening socket of its own, under a supervisor
  that restarts a worker that died and records it (LLMPROXY_WORKERS_FILE) so that `status`
  says so; or, with LLMPROXY_SUPERVISE=0 and one worker (a container: the engine restarts
  it), uvicorn's server in this very process.
- SIGTERM drains kept-alive connections before uvicorn's graceful shutdown, and every worker
  freezes its start-up objects out of the collector once it serves.
- A memory guard (LLMPROXY_MAX_RSS_MB, stack.workers_max_rss): a supervised worker whose
  resident memory passes the limit is recycled without dropping anything: a replacement starts
  on the same socket (both accept from the one queue), and once it serves the old one drains
  as `apply` drains it (LiteLLM 1.108.7's workers grow; its own max-requests-per-worker drops
  the connections the worker holds).
The event loop stays LiteLLM's choice (uvloop on Linux); LLMPROXY_EVENT_LOOP=asyncio
overrides it, for side-by-side benchmarks.

Why a socket per worker: `litellm --num_workers N` hands one listening socket to N uvicorn
workers, and the event loop that wakes for it accepts every connection pending at that
moment; a burst of new keep-alive connections (a client's pool warming up) can land on one
worker while the other idles (benchmarks/perf_conns.py counted 8 of 8 on one worker). With a
socket per worker in one SO_REUSEPORT group the kernel spreads connections as they arrive.
Any process of the same user could join that group on the port, so the local runtime checks
the port is free before it starts.

Workers come from a multiprocessing fork server forked from this process before LiteLLM's
CLI runs, once the proxy app (and what a worker imports to serve) is imported and frozen out
of the collector: a worker starts, or restarts, without importing anything again, and the
pages of those imports are shared by the supervisor, the fork server and every worker
(start_fork_server; LLMPROXY_SHARE_APP=0: a spawned fork server that imports litellm only).
Each worker takes the CLI's environment as it is when the worker starts (config path,
database URL...) before the app's start-up runs. Not a fork of the CLI's process when it
calls `uvicorn.run`: LiteLLM's CLI has started a reaper thread for multi-worker runs by then,
and a fork copies any lock another thread holds (one taken while the reaper held an import
lock hung the worker at start-up); the fork server is forked while this process has one
thread, and it never has another. A worker
that dies is restarted on its socket, which the supervisor keeps open, so connections the
kernel queued for it wait for the replacement instead of being reset.

A local rollout (targets/local/runtime.py) starts a second proxy beside this one on the same
port and says how through the environment: LLMPROXY_PRIVATE_PORT (every worker also listens
on 127.0.0.1:that port, so the new proxy can be checked on its own), LLMPROXY_STEER_BEHIND
(the old proxy's socket count: new connections keep going to it until SIGUSR1 steers them
here, see llmproxy_ops/runtime/steer.py), LLMPROXY_STEER_FILE (where the result of a steering
signal is written) and LLMPROXY_DRAIN_TIMEOUT (how long SIGTERM waits for in-flight requests
and streams). SIGUSR2 hands the choice back to the kernel's hash.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

LOOP_VAR = "LLMPROXY_EVENT_LOOP"  # uvicorn's loop ("asyncio", "uvloop"); unset: LiteLLM's
PORT_VAR = "LLMPROXY_PORT"
SUPERVISE_VAR = "LLMPROXY_SUPERVISE"
WORKERS_FILE_VAR = "LLMPROXY_WORKERS_FILE"
MAX_RSS_VAR = "LLMPROXY_MAX_RSS_MB"  # memory guard: recycle a worker past this RSS (MiB)
SHARE_APP_VAR = "LLMPROXY_SHARE_APP"  # "0": each worker imports the proxy app itself (benchmarks)
APP_MODULE = "litellm.proxy.proxy_server"  # where LiteLLM's CLI has uvicorn find the app
# What a worker imports after the app module, at start-up and for its first chat request
# (plain and streamed), imported once before the fork so it is shared too. Found with
# PYTHONPROFILEIMPORTTIME=1 on a worker of LiteLLM 1.108.7 (each at the top of its import
# chain); a name another LiteLLM no longer has is skipped, costing memory, never start-up.
# Nothing here reads what LiteLLM's CLI sets in the environment (start_fork_server).
WORKER_IMPORTS = (
    "anyio._core._sockets",
    "anyio._core._streams",
    "fastapi.telemetry._runtime",
    "httptools",
    "litellm.chat_completions.dispatch",
    "litellm.containers.main",
    "litellm.decisions.main",
    "litellm.evals.main",
    "litellm.integrations.otel.logger",
    "litellm.integrations.shadow_eval_logger",
    "litellm.litellm_core_utils.default_encoding",
    "litellm.llms.a2a.chat.guardrail_translation.handler",
    "litellm.llms.a2a.chat.transformation",
    "litellm.llms.anthropic.common_utils",
    "litellm.llms.bedrock.passthrough.guardrail_translation.handler",
    "litellm.llms.cohere.rerank.guardrail_translation.handler",
    "litellm.llms.edenai.common_utils",
    "litellm.llms.fal_ai.chat.transformation",
    "litellm.llms.gemini.google_genai.guardrail_translation.handler",
    "litellm.llms.github_copilot.per_user_auth",
    "litellm.llms.mistral.ocr.guardrail_translation.handler",
    "litellm.llms.openai.completion.guardrail_translation.handler",
    "litellm.llms.openai.embeddings.guardrail_translation.handler",
    "litellm.llms.openai.speech.guardrail_translation.handler",
    "litellm.llms.openai.transcriptions.guardrail_translation.handler",
    "litellm.llms.openai.videos.guardrail_translation.handler",
    "litellm.llms.openai_like.dynamic_config",
    "litellm.llms.pass_through.guardrail_translation.handler",
    "litellm.messages.dispatch",
    "litellm.ocr.dispatch",
    "litellm.proxy._experimental.mcp_server.auth.user_api_key_auth_mcp",
    "litellm.proxy._experimental.mcp_server.guardrail_translation",
    "litellm.proxy._experimental.mcp_server.mcp_server_manager",
    "litellm.proxy.admin_mcp",
    "litellm.proxy.common_utils.banner",
    "litellm.proxy.guardrails.guardrail_helpers",
    "litellm.proxy.hooks.mcp_semantic_filter",
    "litellm.proxy.image_endpoints.endpoints",
    "litellm.proxy.pass_through_endpoints.llm_passthrough_endpoints",
    "litellm.proxy.policy_engine.init_policies",
    "litellm.proxy.rag_endpoints.endpoints",
    "litellm.rag.main",
    "litellm.sandbox.sandbox_tools",
    "litellm.search.main",
    "litellm.skills.main",
    "litellm.systemone.main",
    "litellm.types.litellm_core_utils.streaming_chunk_builder_utils",
    "litellm.videos.main",
    "litellm_enterprise.proxy.auth.route_checks",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.websockets_sansio_impl",
    "uvloop",
)
GC_FREEZE_VAR = "LLMPROXY_GC_FREEZE"  # "0": leave start-up objects to the collector (benchmarks)
# CPython before 3.12: a collection that starts inside ContextVar.set (while it allocates the
# new HAMT nodes) can run a finaliser that sets a variable of the same context, which frees
# the HAMT being walked: SIGSEGV in ContextVar.set (CPython gh-148891; 3.12's collector does
# not collect there). LiteLLM sets context variables on every request and leaves coroutines
# to the collector to close, whose `finally` resets them: under plain + SSE load a worker
# died within minutes, on uvloop and on asyncio's loop alike (benchmarks/soak_crash.py).
# So a worker collects only between two steps of its event loop, where no ContextVar.set is
# in progress: automatic collection is off and the same thresholds are applied every tick.
# "0": the collector as CPython runs it (benchmarks).
GC_SAFE_POINTS_VAR = "LLMPROXY_GC_SAFE_POINTS"
STARTUP_FAILURE = 3  # uvicorn's exit code when a server cannot start

FORK_SERVER = multiprocessing.get_context("forkserver")
log = logging.getLogger("uvicorn.error")


# ---- what stands in for LiteLLM's `uvicorn.run(app, ..., workers=N)` -------------------------


def run(app: Any, **options: Any) -> None:
    """Stands in for `uvicorn.run` as LiteLLM's CLI calls it."""
    import uvicorn

    workers = int(options.pop("workers", 1) or 1)
    if os.environ.get(LOOP_VAR):
        options["loop"] = os.environ[LOOP_VAR]
    if os.environ.get(PORT_VAR):
        options["port"] = int(os.environ[PORT_VAR])
    config = uvicorn.Config(app, **options)  # also configures logging as the workers will
    log.info("Serving on the %s event loop; garbage collection %s", options.get("loop", "auto"),
             "at safe points" if gc_at_safe_points() else "as CPython runs it")
    if not supervised(workers):
        server = draining_server(config)
        server.run()
        sys.exit(0 if server.started else STARTUP_FAILURE)
    sys.exit(_supervisor(app, options, config, workers).run())


def supervised(workers: int) -> bool:
    return workers > 1 or os.environ.get(SUPERVISE_VAR, "1") != "0"


def _supervisor(app: Any, options: dict[str, Any], config: Any, workers: int) -> Supervisor:
    behind = int(os.environ.get("LLMPROXY_STEER_BEHIND") or 0)
    private_port = int(os.environ.get("LLMPROXY_PRIVATE_PORT") or 0)
    try:
        sockets = listen_sockets(
            config.host, config.port, workers, config.backlog, steer_behind=behind
        )
        private = (
            listen_sockets("127.0.0.1", private_port, workers, config.backlog)
            if private_port
            else []
        )
    except OSError as exc:
        log.error("Cannot listen on %s:%s: %s", config.host, config.port, exc)
        sys.exit(STARTUP_FAILURE)
    graceful = float(
        os.environ.get("LLMPROXY_DRAIN_TIMEOUT") or config.timeout_graceful_shutdown or 30.0
    )
    steer_file = os.environ.get("LLMPROXY_STEER_FILE")
    record_file = os.environ.get(WORKERS_FILE_VAR)
    return Supervisor(
        app, options, sockets, FORK_SERVER, graceful_s=graceful, private=private,
        steer_behind=behind, steer_file=Path(steer_file) if steer_file else None,
        record_file=Path(record_file) if record_file else None,
        max_rss_mib=int(os.environ.get(MAX_RSS_VAR) or 0),
    )


def _steer() -> Any:
    """Connection steering: only a local rollout asks for it, where the package is installed."""
    from llmproxy_ops.runtime import steer

    return steer


# ---- a worker: uvicorn's server, draining on SIGTERM -----------------------------------------


class CloseWhenDraining:
    """ASGI wrapper: once draining, every response says `Connection: close`.

    uvicorn's shutdown closes a kept-alive idle connection at once; a client that sends its
    next request on it at that moment gets a reset (HTTP/1.1 has no race-free way to close
    an idle connection). Answering that next request and closing after it is race-free.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.draining = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Decided when the request arrives: nothing is added to a request's path until the
        # drain begins (one that straddles it is closed by the keep-alive timeout or shutdown).
        if scope["type"] != "http" or not self.draining:
            await self.app(scope, receive, send)
            return

        async def send_closing(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_closing)


def draining_server(config: Any) -> Any:
    """uvicorn's Server for `config` (loaded here), except that SIGTERM first drains
    kept-alive connections.

    For up to the keep-alive timeout plus a second, the worker keeps serving (a rollout has
    already steered new connections elsewhere) and closes each connection after its next
    response; a connection that stays idle is closed by the keep-alive timeout as always.
    Then uvicorn's own shutdown: stop accepting, wait for in-flight requests and streams.
    With no connection open it shuts down at once; SIGINT is uvicorn's immediate stop.
    """
    import uvicorn

    safe_points = gc_at_safe_points()
    if safe_points:
        gc.disable()  # before LiteLLM's start-up runs its first requests' code
    config.load()
    closing = CloseWhenDraining(config.loaded_app)
    config.loaded_app = closing
    linger_s = float(config.timeout_keep_alive) + 1.0
    freeze = os.environ.get(GC_FREEZE_VAR, "1") != "0"

    class DrainingServer(uvicorn.Server):  # type: ignore[misc]  # uvicorn ships no stubs here
        drain_started: float | None = None
        frozen = not freeze

        def handle_exit(self, sig: int, frame: Any) -> None:
            if sig == signal.SIGTERM and self.drain_started is None and self.started:
                self.drain_started = time.monotonic()
                closing.draining = True
                log.info("Draining: %d connection(s) close after their next response "
                         "(at most %.0f s), then shutdown", len(self.server_state.connections),
                         linger_s)
                return
            super().handle_exit(sig, frame)

        async def on_tick(self, counter: int) -> bool:
            if not self.frozen and self.started:
                freeze_startup_objects()
                self.frozen = True
            if safe_points:
                collect_when_due()
            if self.drain_started is not None and not self.should_exit:
                lingered = time.monotonic() - self.drain_started >= linger_s
                if lingered or not self.server_state.connections:
                    self._captured_signals.append(signal.SIGTERM)  # as uvicorn records it
                    self.should_exit = True
            return bool(await super().on_tick(counter))

    return DrainingServer(config)


def gc_at_safe_points() -> bool:
    return sys.version_info < (3, 12) and os.environ.get(GC_SAFE_POINTS_VAR, "1") != "0"


def collect_when_due() -> None:
    """What CPython's automatic collection would do now, from a safe point (uvicorn's tick,
    every 0.1 s): the youngest generation past its threshold, and the older ones with it
    when their own counts are past theirs (gc.set_threshold, PYTHON_GC_THRESHOLD)."""
    t0, t1, t2 = gc.get_threshold()
    c0, c1, c2 = gc.get_count()
    if t0 and c0 >= t0:
        gc.collect(2 if c1 >= t1 and c2 >= t2 else 1 if c1 >= t1 else 0)


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (LiteLLM's modules, model map, router: millions
    of objects) out of the collector's reach: a full collection then walks only what
    requests created since, instead of pausing the worker for hundreds of ms to re-walk
    objects that live until exit. Collect first so no garbage is frozen with them."""
    gc.collect()
    gc.freeze()
    log.info("gc.freeze: %d start-up objects out of the collector's reach", gc.get_freeze_count())


# ---- the supervisor: a SO_REUSEPORT socket per worker, restarts recorded --------------------


CRASH_WINDOW_S = 60.0
CRASHES_PER_WORKER = 5  # restarts allowed per worker within CRASH_WINDOW_S before giving up
POLL_S = 0.5
# memory guard: a worker is sampled every poll, recorded every RSS_RECORD_S; one that has not
# served RECYCLE_MIN_AGE_S yet is left alone (a limit below a fresh worker's size must not
# turn into a start loop); a replacement that does not serve within RECYCLE_START_S is given
# up, and its slot is not tried again for RECYCLE_BACKOFF_S
RSS_RECORD_S = 5.0
RECYCLE_MIN_AGE_S = 10.0
RECYCLE_START_S = 180.0
RECYCLE_BACKOFF_S = 60.0


def listen_sockets(
    host: str, port: int, count: int, backlog: int, *, steer_behind: int = 0
) -> list[socket.socket]:
    """`count` listening sockets on host:port, one SO_REUSEPORT group.

    steer_behind: the group already has that many sockets (a running proxy); new connections
    stay on them (the program is attached right after the first of ours listens).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(backlog)
            sock.set_inheritable(True)
            if steer_behind and len(sockets) == 1:
                _steer().attach(sock, offset=0, count=steer_behind)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def serve_worker(
    app: Any, options: dict[str, Any], socks: list[socket.socket], environ: dict[str, str],
    ready: Any = None,
) -> None:
    """One worker: uvicorn's Server on its own listening socket(s) (a fork server's child)."""
    import uvicorn

    os.environ.clear()  # the fork server's copy predates what LiteLLM's CLI set
    os.environ.update(environ)
    server = draining_server(uvicorn.Config(app, **options))
    if ready is not None:
        signal_when_serving(server, ready)
    server.run(sockets=socks)
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def signal_when_serving(server: Any, ready: Any) -> None:
    """Set `ready` (a multiprocessing Event) once uvicorn's start-up is complete and it
    accepts: the memory guard retires the worker it replaces only then."""
    startup = server.startup

    async def startup_then_signal(sockets: list[socket.socket] | None = None) -> None:
        await startup(sockets=sockets)
        if server.started and not server.should_exit:
            ready.set()

    server.startup = startup_then_signal


def rss_mib(pid: int) -> int | None:
    """Resident memory of a process in MiB (VmRSS), None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def describe_exit(code: int | None) -> str:
    """multiprocessing's exit code in words: -11 is "killed by SIGSEGV"."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class WorkerRecord:
    """What `status` shows of one worker slot: who serves it now, and how often it died."""

    index: int
    pid: int = 0
    started_at: float = 0.0
    restarts: int = 0
    last_exit: str = ""  # "killed by SIGSEGV", "exit code 1"
    last_exit_at: float | None = None
    recycles: int = 0  # replaced by the memory guard (not crashes: nothing was dropped)
    rss_mib: int | None = None  # resident memory at the last sample


@dataclass
class Recycle:
    """A replacement starting beside the worker of slot `index`, which it replaces once it
    serves."""

    index: int
    old: BaseProcess
    new: BaseProcess
    ready: Any  # multiprocessing Event, set by the replacement once uvicorn serves
    rss_mib: int
    started: float = field(default_factory=time.monotonic)


@dataclass
class Supervisor:
    """Starts one worker per socket, restarts the ones that die, stops all on SIGTERM/SIGINT."""

    app: Any
    options: dict[str, Any]
    sockets: list[socket.socket]
    context: Any  # the multiprocessing context that starts workers
    graceful_s: float = 30.0
    private: list[socket.socket] = field(default_factory=list)  # 127.0.0.1:private port
    steer_behind: int = 0
    steer_file: Path | None = None
    record_file: Path | None = None
    max_rss_mib: int = 0  # memory guard: 0 = off
    workers: list[BaseProcess] = field(default_factory=list)
    records: list[WorkerRecord] = field(default_factory=list)
    crashes: deque[float] = field(default_factory=deque)
    stopping: bool = False
    recycle: Recycle | None = None  # at most one slot is being recycled at a time
    retiring: list[tuple[BaseProcess, float]] = field(default_factory=list)  # (worker, deadline)
    backoff: dict[int, float] = field(default_factory=dict)  # slot: no recycle before then
    rss_recorded: float = 0.0

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGUSR1, self._steer_here)
        signal.signal(signal.SIGUSR2, self._unsteer)
        self.records = [WorkerRecord(i) for i in range(len(self.sockets))]
        self.workers = [self._start(i) for i in range(len(self.sockets))]
        if self.max_rss_mib:
            log.info("Memory guard: a worker past %d MiB is replaced, then drained",
                     self.max_rss_mib)
        code = 0
        while not self.stopping:
            time.sleep(POLL_S)
            code = self._reap()
            if code:
                break
            if not self.stopping:  # the group's SIGTERM also reached a replacement starting
                self._watch_memory()
        self._stop_all()
        return code

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.stopping = True

    def _steer_here(self, _signum: int, _frame: Any) -> None:
        try:
            _steer().attach(self.sockets[0], offset=self.steer_behind, count=len(self.sockets))
            self._report("steered")
        except OSError as exc:
            self._report(f"error: {exc}")

    def _unsteer(self, _signum: int, _frame: Any) -> None:
        _steer().detach(self.sockets[0])
        self._report("unsteered")

    def _report(self, text: str) -> None:
        log.info("Connection steering: %s", text)
        if self.steer_file is not None:
            _replace_text(self.steer_file, text + "\n")

    def _start(self, index: int) -> BaseProcess:
        worker = self._spawn(index)
        log.info("Started worker process [%s] on its own SO_REUSEPORT socket", worker.pid)
        record = self.records[index]
        record.pid, record.started_at, record.rss_mib = worker.pid or 0, time.time(), None
        self._save_records()
        return worker

    def _spawn(self, index: int, ready: Any = None) -> BaseProcess:
        socks = [self.sockets[index], *self.private[index : index + 1]]
        worker = self.context.Process(
            target=serve_worker,
            args=(self.app, self.options, socks, dict(os.environ), ready),
            name=f"litellm-worker-{index}",
        )
        worker.start()
        return worker

    def _reap(self) -> int:
        """Restart dead workers; a non-zero result is the exit code to stop with."""
        for index, worker in enumerate(self.workers):
            if worker.is_alive() or self.stopping:
                continue
            worker.join()
            self._cancel_recycle(index)  # its replacement gives way to the restart
            how = describe_exit(worker.exitcode)
            record = self.records[index]
            record.last_exit, record.last_exit_at = how, time.time()
            if worker.exitcode == STARTUP_FAILURE:
                log.error("Worker [%s] could not start; stopping", worker.pid)
                self._save_records()
                return STARTUP_FAILURE
            if self._crash_looping():
                log.error(
                    "Workers keep dying (%d in %.0f s); stopping", len(self.crashes), CRASH_WINDOW_S
                )
                self._save_records()
                return 1
            log.error("Worker [%s] died (%s); restarting it", worker.pid, how)
            record.restarts += 1
            self.workers[index] = self._start(index)
        return 0

    # ---- the memory guard: replace a worker past the limit, then drain it ------------------

    def _watch_memory(self) -> None:
        """Sample each worker's RSS (every poll with the guard on, else every RSS_RECORD_S,
        for `status`) and recycle at most one worker past the limit."""
        now = time.monotonic()
        due = now - self.rss_recorded >= RSS_RECORD_S
        if not self.max_rss_mib and not due:
            return
        self._reap_retiring()
        if self.recycle is not None:
            self._advance_recycle(self.recycle)
            return
        over: list[tuple[int, int]] = []  # (rss, slot)
        for index, worker in enumerate(self.workers):
            rss = self.records[index].rss_mib = rss_mib(worker.pid or 0)
            if rss is not None and self._recyclable(index, rss, now):
                over.append((rss, index))
        if over:
            rss, index = max(over)
            ready = self.context.Event()
            new = self._spawn(index, ready)
            self.recycle = Recycle(index, self.workers[index], new, ready, rss)
        if due:
            self.rss_recorded = now
            self._save_records()

    def _recyclable(self, index: int, rss: int, now: float) -> bool:
        young = time.time() - self.records[index].started_at < RECYCLE_MIN_AGE_S
        return 0 < self.max_rss_mib < rss and not young and self.backoff.get(index, 0.0) <= now

    def _advance_recycle(self, recycle: Recycle) -> None:
        """Retire the old worker once its replacement serves; give up on a replacement that
        died or took too long (the old worker goes on serving)."""
        old_pid, new_pid = recycle.old.pid, recycle.new.pid
        if recycle.ready.is_set():
            self.recycle = None
            recycle.old.terminate()  # SIGTERM: it drains, as in a rollout
            self.retiring.append((recycle.old, time.monotonic() + self.graceful_s))
            self.workers[recycle.index] = recycle.new
            record = self.records[recycle.index]
            record.pid, record.started_at = new_pid or 0, time.time()
            record.recycles += 1
            record.rss_mib = rss_mib(new_pid or 0)
            log.info("Worker [%s] at %d MiB > %d MiB; replaced by [%s]",
                     old_pid, recycle.rss_mib, self.max_rss_mib, new_pid)
            self._save_records()
        elif not recycle.new.is_alive():
            recycle.new.join()
            self._give_up_recycle(recycle, f"its replacement [{new_pid}] ended before it "
                                  f"served ({describe_exit(recycle.new.exitcode)})")
        elif time.monotonic() - recycle.started > RECYCLE_START_S:
            self._give_up_recycle(recycle, f"its replacement [{new_pid}] did not serve "
                                  f"within {RECYCLE_START_S:.0f} s")

    def _give_up_recycle(self, recycle: Recycle, why: str) -> None:
        log.warning("Worker [%s] at %d MiB > %d MiB stays: %s; next try in %.0f s",
                    recycle.old.pid, recycle.rss_mib, self.max_rss_mib, why, RECYCLE_BACKOFF_S)
        self._cancel_recycle(recycle.index)
        self.backoff[recycle.index] = time.monotonic() + RECYCLE_BACKOFF_S

    def _cancel_recycle(self, index: int) -> None:
        recycle = self.recycle
        if recycle is None or recycle.index != index:
            return
        self.recycle = None
        if recycle.new.is_alive():
            recycle.new.kill()  # it never served: nothing to drain
        recycle.new.join()

    def _reap_retiring(self) -> None:
        """Join retired workers that finished draining; kill one past the drain timeout."""
        still = []
        for worker, deadline in self.retiring:
            if worker.is_alive() and time.monotonic() > deadline:
                log.warning("Worker [%s] still draining after %.0f s; killed",
                            worker.pid, self.graceful_s)
                worker.kill()
            if worker.is_alive():
                still.append((worker, deadline))
            else:
                worker.join()
        self.retiring = still

    def _crash_looping(self) -> bool:
        now = time.monotonic()
        self.crashes.append(now)
        while now - self.crashes[0] > CRASH_WINDOW_S:
            self.crashes.popleft()
        return len(self.crashes) > CRASHES_PER_WORKER * len(self.workers)

    def _save_records(self) -> None:
        if self.record_file is None:
            return
        doc = {"supervisor": os.getpid(),
               "workers": [vars(r) for r in self.records]}
        try:
            _replace_text(self.record_file, json.dumps(doc) + "\n")
        except OSError as exc:  # the record is for people; serving goes on without it
            log.warning("Cannot record workers in %s: %s", self.record_file, exc)

    def _stop_all(self) -> None:
        retiring = [w for w, _ in self.retiring]
        if self.recycle is not None:
            retiring.append(self.recycle.new)  # a replacement starting: stopped like the rest
        alive = [w for w in [*self.workers, *retiring] if w.is_alive()]
        for worker in alive:
            worker.terminate()  # SIGTERM: uvicorn finishes in-flight requests
        deadline = time.monotonic() + self.graceful_s
        for worker in alive:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.kill()
                worker.join()
        # Closed last: while a rollout steers new connections to the new proxy these stay
        # in the group untouched, so the group's socket order (and the steering) holds.
        for sock in self.sockets + self.private:
            sock.close()


def _replace_text(path: Path, text: str) -> None:
    """Write beside, then rename: a reader never sees half a file. Created 0600, never
    through a link (O_EXCL on the temporary name)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


# ---- entry point -----------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    if os.environ.get(SUPERVISE_VAR, "1") != "0":
        start_fork_server()
    import uvicorn
    from litellm import run_server

    uvicorn.run = run  # LiteLLM's CLI does `import uvicorn; uvicorn.run(...)` when serving
    run_server.main(args=argv, prog_name="litellm")


# ---- the fork server: workers share the proxy app's pages -----------------------------------


def start_fork_server() -> None:
    """The fork server the workers come from, with the proxy app imported (see fork_fork_server).

    The app is imported here before LiteLLM's CLI runs, as the CLI itself imports it before
    its set-up: module-level state sees the same environment as `litellm --config` gives it
    (none of it reads what the CLI sets: the config path, worker config, database URL...,
    which every worker takes before its start-up, serve_worker). LLMPROXY_SHARE_APP=0, a
    CPython whose fork server differs (3.14 authenticates its clients), or a thread already
    running: the previous way, a spawned fork server that imports litellm only.
    """
    if os.environ.get(SHARE_APP_VAR, "1") != "0" and sys.version_info < (3, 14):
        preload_app()
        if threading.active_count() == 1:  # a fork keeps only this thread: no lock held
            fork_fork_server()
            return
        log.warning("Threads running after the import: workers import the proxy app themselves")
    # Started before LiteLLM's CLI runs: it imports litellm on the other core meanwhile.
    FORK_SERVER.set_forkserver_preload(["litellm"])
    multiprocessing.forkserver.ensure_running()


def preload_app() -> None:
    """Import what every worker serves, then move it out of the collector's reach: a
    collection writes to the header of every object it walks, which would copy the shared
    pages into each process that collects."""
    import uvicorn  # noqa: F401  # what every worker runs, imported once for all of them

    importlib.import_module(APP_MODULE)
    for name in WORKER_IMPORTS:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001  # moved in another LiteLLM: the worker imports its own
            continue
    gc.collect()
    gc.freeze()


def fork_fork_server() -> None:
    """multiprocessing's fork server, forked from this process instead of spawned afresh.

    Its workers (and their replacements) are forked from it: every page of the imports so
    far is shared by this process, the fork server and all workers, instead of one copy per
    process. The fork server is forked now, while this process has one thread, and never
    runs LiteLLM's CLI: forking later, from the CLI, would copy its reaper thread's locks.
    It serves multiprocessing's own protocol (CPython 3.11 to 3.13 share it), so starting,
    restarting and reaping a worker are multiprocessing's as before.
    """
    from multiprocessing import connection, forkserver, resource_tracker, util

    resource_tracker.ensure_running()  # as ForkServer.ensure_running does, before the fork
    address = connection.arbitrary_address("AF_UNIX")  # type: ignore[attr-defined]  # no stub
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(address)
    if not util.is_abstract_socket_namespace(address):
        os.chmod(address, 0o600)
    listener.listen()
    alive_r, alive_w = os.pipe()  # EOF on alive_r: every client is gone, the server exits
    for stream in (sys.stdout, sys.stderr):  # or every worker would print it again at exit
        stream.flush()
    pid = os.fork()
    if pid == 0:  # the fork server: never returns into LiteLLM's CLI
        code = 1
        try:
            os.close(alive_w)
            forkserver.main(listener.fileno(), alive_r, [])
        except SystemExit:  # how it ends once the supervisor is gone
            code = 0
        except BaseException:  # noqa: BLE001  # said in the log, then the supervisor sees it
            sys.excepthook(*sys.exc_info())
        finally:
            sys.stderr.flush()
            os._exit(code)
    listener.close()
    os.close(alive_r)
    server: Any = forkserver._forkserver  # what ForkServer.ensure_running records after a spawn
    server._forkserver_address = address
    server._forkserver_alive_fd = alive_w
    server._forkserver_pid = pid


if __name__ == "__main__":
    main(sys.argv[1:])
