"""LiveKit's server side, offline: AgentServer, JobContext, JobProcess, and one job run in-process.

A LiveKit agent file registers an entrypoint on an ``AgentServer`` (``@server.rtc_session()``) and
ends with ``cli.run_app(server)``. On a LiveKit server a worker runs ``setup_fnc`` once per process
and the entrypoint once per room. Here, :meth:`AgentServer.start_job` runs them in the caller's
event loop against an offline room: ``setup_fnc(proc)`` once per server, then
``entrypoint(ctx)``, which builds the file's own ``AgentSession`` (its options, userdata and
handlers) and calls ``session.start(agent, room=ctx.room)``. That session becomes
``ctx.primary_session``, which the console, ``simulate`` and notebooks then drive.

Closing follows LiveKit's job shutdown order (reference §20.1): wait for the entrypoint, close the
primary session (reason ``user_initiated``), ``on_session_end(ctx)``, then every shutdown callback
(with the reason).

What needs a real server raises :class:`~agentlab._unsupported.Unsupported` when *used*:
``AgentServer.run``, ``ctx.api``, publishing tracks or data, SIP.

Example::

    server = AgentServer()

    @server.rtc_session()
    async def entrypoint(ctx: JobContext):
        session = AgentSession(llm=ScriptedLLM(default="Hi!"))
        await session.start(agent=Agent(instructions="Be brief."), room=ctx.room)

    ctx = await server.start_job()
    await ctx.primary_session.run(user_input="hello")
    await ctx.aclose()
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import inspect
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .._unsupported import fail
from ..models import offline as _offline
from ..models.offline import components_override

__all__ = [
    "AgentServer",
    "AutoSubscribe",
    "JobContext",
    "JobExecutorType",
    "JobProcess",
    "JobRequest",
    "WorkerOptions",
    "WorkerPermissions",
    "WorkerType",
    "get_job_context",
]

logger = logging.getLogger("agentlab.livekit")

_current_job: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar("agentlab_livekit_job", default=None)

#: How long the job waits for its entrypoint before cancelling it (LiveKit: 15 s).
_ENTRYPOINT_WAIT = 15.0


class AutoSubscribe(str, enum.Enum):
    """``ctx.connect(auto_subscribe=...)`` (accepted; the offline room has no tracks to subscribe to)."""

    SUBSCRIBE_ALL = "subscribe_all"
    SUBSCRIBE_NONE = "subscribe_none"
    AUDIO_ONLY = "audio_only"
    VIDEO_ONLY = "video_only"


class JobExecutorType(enum.Enum):
    """Where LiveKit runs jobs; offline every job runs in the caller's event loop."""

    PROCESS = "process"
    THREAD = "thread"


class WorkerType(enum.Enum):
    """LiveKit's ``ServerType``: one job per room, or per publisher."""

    ROOM = 0
    PUBLISHER = 1


@dataclass
class WorkerPermissions:
    """What the agent may do in its room (accepted; nothing is published offline)."""

    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True
    can_update_metadata: bool = True
    can_publish_sources: list[Any] = field(default_factory=list)
    hidden: bool = False


def _accept_all(req: JobRequest) -> Awaitable[None]:
    return req.accept()


@dataclass
class WorkerOptions:
    """The older way to describe a worker: ``cli.run_app(WorkerOptions(entrypoint_fnc=...))``.

    Only ``entrypoint_fnc`` and ``prewarm_fnc`` matter offline; the rest configure a server.
    """

    entrypoint_fnc: Callable[[JobContext], Awaitable[None]]
    request_fnc: Callable[[JobRequest], Awaitable[None]] = _accept_all
    prewarm_fnc: Callable[[JobProcess], Any] | None = None
    load_fnc: Any = None
    job_executor_type: JobExecutorType = JobExecutorType.PROCESS
    load_threshold: float = 0.7
    job_memory_warn_mb: float = 1000
    job_memory_limit_mb: float = 0
    drain_timeout: int = 3600
    num_idle_processes: int = 0
    shutdown_process_timeout: float = 10.0
    session_end_timeout: float = 300.0
    initialize_process_timeout: float = 10.0
    permissions: WorkerPermissions = field(default_factory=WorkerPermissions)
    agent_name: str = ""
    worker_type: WorkerType = WorkerType.ROOM
    max_retry: int = 16
    ws_url: str | None = None
    api_key: str | None = None
    api_secret: str | None = None
    log_level: str = "INFO"
    host: str = ""
    port: int = 0
    http_proxy: Any = None
    multiprocessing_context: str = "forkserver"
    preload_modules: list[str] | None = None
    prometheus_port: Any = None
    prometheus_multiproc_dir: str | None = None


class JobProcess:
    """The process a job runs in; ``userdata`` is where ``setup_fnc`` (prewarm) leaves loaded models."""

    def __init__(self) -> None:
        self.userdata: dict[str, Any] = {}
        self.executor_type = JobExecutorType.THREAD
        self.pid = os.getpid()
        self.user_arguments: Any = None
        self.http_proxy: str | None = None

    def __repr__(self) -> str:
        return f"JobProcess(userdata keys={sorted(self.userdata)})"


class JobRequest:
    """A job offered to the worker; offline every job is accepted."""

    def __init__(self, job_id: str, room_name: str) -> None:
        self.id = job_id
        self.room_name = room_name
        self.accepted_identity: str | None = None

    async def accept(self, *, name: str = "", identity: str = "", metadata: str = "", attributes: dict[str, str] | None = None) -> None:
        self.accepted_identity = identity or f"agent-{self.id}"

    async def reject(self) -> None:
        fail("JobRequest.reject", "offline jobs are always accepted")


class _Participant:
    """A room participant offline: its identity and attributes; publishing needs a server."""

    def __init__(self, identity: str, *, kind: str = "standard") -> None:
        self.identity = identity
        self.name = identity
        self.sid = f"PA_{identity}"
        self.kind = kind
        self.metadata = ""
        self.attributes: dict[str, str] = {}
        self.track_publications: dict[str, Any] = {}
        self.rpc_methods: dict[str, Callable[..., Any]] = {}

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.attributes.update(attributes)

    async def set_metadata(self, metadata: str) -> None:
        self.metadata = metadata

    def register_rpc_method(self, method: str, handler: Callable[..., Any] | None = None) -> Any:
        """Register an RPC handler (kept; offline no participant calls it)."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.rpc_methods[method] = fn
            return fn

        return register(handler) if handler is not None else register

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        fail(f"rtc participant .{attr}", "publishing tracks or data, RPC and streams need a LiveKit room")

    def __repr__(self) -> str:
        return f"Participant({self.identity!r})"


class OfflineRoom:
    """The room a job gets offline (LiveKit's console uses a mock room the same way).

    It has a name, a local participant (the agent) and one remote participant (``"mock_user"``),
    and registers event handlers (``@ctx.room.on("participant_connected")``) that never fire.
    Publishing tracks or data and SIP need a LiveKit server and raise ``Unsupported``.
    """

    def __init__(self, name: str = "console-room") -> None:
        self.name = name
        self.sid = f"RM_{name}"
        self.metadata = ""
        self.local_participant = _Participant("agent")
        user = _Participant("mock_user")
        self.remote_participants: dict[str, _Participant] = {user.identity: user}
        self._handlers: dict[str, list[Callable[..., Any]]] = {}
        self._connected = False

    def isconnected(self) -> bool:
        return self._connected

    @property
    def connection_state(self) -> int:
        return 1 if self._connected else 0

    def on(self, event: str, callback: Callable[..., Any] | None = None) -> Any:
        def register(cb: Callable[..., Any]) -> Callable[..., Any]:
            self._handlers.setdefault(event, []).append(cb)
            return cb

        return register(callback) if callback is not None else register

    def off(self, event: str, callback: Callable[..., Any]) -> None:
        if callback in self._handlers.get(event, []):
            self._handlers[event].remove(callback)

    def emit(self, event: str, *args: Any) -> None:
        for cb in list(self._handlers.get(event, [])):
            cb(*args)

    async def disconnect(self) -> None:
        self._connected = False

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        fail(f"rtc.Room.{attr}", "it needs a LiveKit room")

    def __repr__(self) -> str:
        return f"OfflineRoom({self.name!r})"


@dataclass
class _Job:
    """The protobuf ``agent.Job``'s fields a file reads."""

    id: str
    metadata: str
    agent_name: str
    room: Any
    dispatch_id: str = ""
    enable_recording: bool = False
    attributes: dict[str, str] = field(default_factory=dict)


class JobContext:
    """What an entrypoint receives: the room, the process, the job, shutdown callbacks.

    ``connect()`` and ``wait_for_participant()`` work against the offline room; ``api``, SIP and
    room deletion need a LiveKit server. :meth:`aclose` (agentlab's) runs LiveKit's shutdown order.
    """

    def __init__(self, *, proc: JobProcess, room: OfflineRoom, agent_name: str = "", metadata: str = "", job_id: str = "fake-job") -> None:
        self.proc = proc
        self.room = room
        self.job = _Job(id=job_id, metadata=metadata, agent_name=agent_name, room=room)
        self.worker_id = "agentlab"
        self._log_context_fields: dict[str, Any] = {}
        self._shutdown_callbacks: list[Callable[..., Any]] = []
        self._participant_entrypoints: list[Callable[..., Any]] = []
        self._primary_session: Any = None
        self._shutdown: asyncio.Future[str] | None = None
        self._entrypoint: asyncio.Task[Any] | None = None
        self._started: asyncio.Future[None] | None = None
        self._on_session: Callable[[Any], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()  # participant entrypoints
        #: The components standing in for cloud models in this job (see agentlab.models.offline).
        self.components: dict[str, Any] = {}
        self._closed = False
        self.on_session_end: Callable[[JobContext], Any] | None = None

    # --- what entrypoints use -----------------------------------------------------------------

    @property
    def log_context_fields(self) -> dict[str, Any]:
        """Fields added to this job's log records (a dict; may be reassigned)."""
        return self._log_context_fields

    @log_context_fields.setter
    def log_context_fields(self, value: dict[str, Any]) -> None:
        self._log_context_fields = value

    @property
    def agent(self) -> _Participant:
        return self.room.local_participant

    @property
    def primary_session(self) -> Any:
        """The first session started in this job (``RuntimeError`` if none yet, as LiveKit)."""
        if self._primary_session is None:
            raise RuntimeError("JobContext.primary_session: no AgentSession was started in this job")
        return self._primary_session

    @property
    def api(self) -> Any:
        fail("JobContext.api", "the LiveKit server API needs a LiveKit server")

    def is_fake_job(self) -> bool:
        return True

    async def connect(
        self, *, encryption: Any = None, auto_subscribe: Any = AutoSubscribe.SUBSCRIBE_ALL, rtc_config: Any = None, **_: Any
    ) -> None:
        """Connect to the (offline) room; idempotent. Participant entrypoints then run for the user."""
        if self.room._connected:
            return
        self.room._connected = True
        for participant in self.room.remote_participants.values():
            for fnc in self._participant_entrypoints:
                self._spawn(fnc(self, participant))

    async def wait_for_participant(self, *, identity: str | None = None, kind: Any = None) -> _Participant:
        """The first remote participant (connecting first if needed): offline, ``mock_user``."""
        await self.connect()
        for participant in self.room.remote_participants.values():
            if identity is None or participant.identity == identity:
                return participant
        fail(f"JobContext.wait_for_participant(identity={identity!r})", "the offline room has only 'mock_user'")

    def add_participant_entrypoint(self, entrypoint_fnc: Callable[..., Awaitable[None]], *_: Any, **__: Any) -> None:
        self._participant_entrypoints.append(entrypoint_fnc)

    def add_shutdown_callback(self, callback: Callable[..., Awaitable[None]]) -> None:
        """Run ``callback()`` (or ``callback(reason)``) when the job shuts down."""
        self._shutdown_callbacks.append(callback)

    def shutdown(self, reason: str = "") -> None:
        """Ask the job to shut down (returns at once, as in LiveKit); :meth:`aclose` does the work."""
        if self._shutdown is not None and not self._shutdown.done():
            self._shutdown.set_result(reason)

    async def delete_room(self, room_name: str = "") -> None:
        logger.warning("delete_room: a fake job has no room to delete (nothing done)")

    async def add_sip_participant(self, *args: Any, **kwargs: Any) -> None:
        logger.warning("add_sip_participant: a fake job cannot dial (nothing done)")

    async def transfer_sip_participant(self, *args: Any, **kwargs: Any) -> None:
        logger.warning("transfer_sip_participant: a fake job cannot transfer calls (nothing done)")

    def token_claims(self) -> Any:
        fail("JobContext.token_claims", "access tokens come from a LiveKit server")

    # --- agentlab: running and closing the job --------------------------------------------------

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("participant entrypoint failed", exc_info=task.exception())

    def _register_session(self, session: Any) -> None:
        """Called by ``AgentSession.start`` inside this job: the first session is the primary one."""
        if self._primary_session is None:
            self._primary_session = session
            if self._on_session is not None:
                self._on_session(session)
            if self._started is not None and not self._started.done():
                self._started.set_result(None)

    async def wait_for_shutdown(self) -> str:
        """agentlab: wait until :meth:`shutdown` is called; returns the reason."""
        if self._shutdown is None:
            raise RuntimeError("JobContext.wait_for_shutdown: the job has not started (AgentServer.start_job starts it)")
        return await self._shutdown

    async def aclose(self, reason: str = "user requested") -> None:
        """agentlab: shut the job down in LiveKit's order and wait for it (idempotent).

        A step that fails is logged and the next ones still run, so shutdown callbacks always do.
        """
        if self._closed:
            return
        self._closed = True
        try:
            await self._close_steps(reason)
        finally:
            if self in _open_jobs:
                _open_jobs.remove(self)

    async def _close_steps(self, reason: str) -> None:
        self.shutdown(reason)
        for task in list(self._tasks):
            task.cancel()
        if self._entrypoint is not None and not self._entrypoint.done():
            done, _ = await asyncio.wait([self._entrypoint], timeout=_ENTRYPOINT_WAIT)
            if not done:
                self._entrypoint.cancel()
        entry = self._entrypoint
        crashed = entry is not None and entry.done() and not entry.cancelled() and entry.exception() is not None
        if crashed and reason != "job crashed":  # a crash at start is raised by start_job instead
            logger.error("the entrypoint failed", exc_info=self._entrypoint.exception())
        if self._primary_session is not None:
            await _logged(self._primary_session.aclose(), "closing the session")
        if self.on_session_end is not None:
            await _call_with_reason(self.on_session_end, self, pass_ctx=True)
        await self.room.disconnect()
        await asyncio.gather(*(_call_with_reason(cb, reason) for cb in self._shutdown_callbacks), return_exceptions=True)

    def __repr__(self) -> str:
        return f"JobContext(room={self.room.name!r}, job={self.job.id!r})"


async def _call_with_reason(callback: Callable[..., Any], reason: Any, *, pass_ctx: bool = False) -> None:
    """Call a shutdown callback with the reason when it takes one (``on_session_end`` always gets the context)."""
    try:
        takes_reason = pass_ctx or len(inspect.signature(callback).parameters) >= 1
    except (TypeError, ValueError):
        takes_reason = False
    try:
        result = callback(reason) if takes_reason else callback()
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("shutdown callback %r failed", callback)


#: Jobs started and not yet closed. Outside a job's own tasks (a notebook cell or the console
#: driving ``ctx.primary_session``), the one running job is still "the" job, as in a LiveKit
#: process that runs one job.
_open_jobs: list[JobContext] = []


def get_job_context(*, required: bool = True) -> JobContext | None:
    """The running job's context (``RuntimeError`` outside a job unless ``required=False``).

    Inside the job's tasks it is that job; elsewhere, the only job running, if exactly one is.
    """
    ctx = _current_job.get() or (_open_jobs[0] if len(_open_jobs) == 1 else None)
    if ctx is None and required:
        raise RuntimeError("no job context found; get_job_context() only works inside a job's entrypoint or session")
    return ctx


class AgentServer:
    """Where an agent file registers its entrypoint (``@server.rtc_session()``) and its prewarm.

    Offline, :meth:`start_job` runs one job in the current event loop. The server options
    (ports, load, processes, credentials) are accepted and ignored: there is no server.

    Example::

        server = AgentServer()

        @server.rtc_session(agent_name="support")
        async def entrypoint(ctx: JobContext): ...

        ctx = await server.start_job()
    """

    def __init__(self, *, setup_fnc: Callable[[JobProcess], Any] | None = None, **options: Any) -> None:
        self.options = options
        self._setup_fnc = setup_fnc
        self._entrypoint: Callable[[JobContext], Awaitable[None]] | None = None
        self._agent_name = ""
        self._on_request: Callable[[JobRequest], Awaitable[None]] | None = None
        self._on_session_end: Callable[[JobContext], Any] | None = None
        self._proc: JobProcess | None = None
        self._jobs = 0

    @classmethod
    def from_server_options(cls, options: WorkerOptions) -> AgentServer:
        """The server a ``WorkerOptions`` describes (``prewarm_fnc`` becomes ``setup_fnc``)."""
        server = cls(setup_fnc=options.prewarm_fnc)
        server.rtc_session(options.entrypoint_fnc, agent_name=options.agent_name, on_request=options.request_fnc)
        return server

    @property
    def setup_fnc(self) -> Callable[[JobProcess], Any] | None:
        return self._setup_fnc

    @setup_fnc.setter
    def setup_fnc(self, value: Callable[[JobProcess], Any] | None) -> None:
        if value is not None and not callable(value):
            raise TypeError(f"AgentServer.setup_fnc must be callable, got {type(value).__name__}")
        self._setup_fnc = value

    def rtc_session(
        self,
        func: Callable[[JobContext], Awaitable[None]] | None = None,
        *,
        agent_name: str = "",
        type: WorkerType = WorkerType.ROOM,
        on_request: Callable[[JobRequest], Awaitable[None]] | None = None,
        on_session_end: Callable[[JobContext], Any] | None = None,
        on_simulation_end: Any = None,
    ) -> Any:
        """Register the entrypoint (a decorator with or without arguments, or a direct call)."""

        def register(fn: Callable[[JobContext], Awaitable[None]]) -> Callable[[JobContext], Awaitable[None]]:
            if self._entrypoint is not None:
                raise RuntimeError("AgentServer: an entrypoint is already registered (only one rtc_session per server)")
            self._entrypoint = fn
            self._agent_name = os.environ.get("LIVEKIT_AGENT_NAME_OVERRIDE") or agent_name or os.environ.get("LIVEKIT_AGENT_NAME", "")
            self._on_request = on_request
            self._on_session_end = on_session_end
            return fn

        return register(func) if func is not None else register

    @property
    def entrypoint(self) -> Callable[[JobContext], Awaitable[None]] | None:
        """The registered entrypoint (``None`` until ``rtc_session`` runs)."""
        return self._entrypoint

    @property
    def agent_name(self) -> str:
        return self._agent_name

    def run(self, *args: Any, **kwargs: Any) -> Any:
        fail("AgentServer.run", "registering with a LiveKit server needs one; run the file with `agentlab console FILE`")

    async def start_job(
        self, *, room_name: str = "console-room", metadata: str = "", on_session: Callable[[Any], None] | None = None
    ) -> JobContext:
        """agentlab: run one job here: prewarm (once per server), accept, run the entrypoint.

        Returns as soon as the entrypoint has started its session (``ctx.primary_session``) or has
        returned, whichever comes first; an entrypoint that goes on (a greeting it awaits) keeps
        running. An error it raised is raised here, once the job is closed. Close the job with
        ``await ctx.aclose()``.
        """
        if self._entrypoint is None:
            raise RuntimeError("AgentServer: no entrypoint registered (decorate one with @server.rtc_session())")
        if self._proc is None:
            self._proc = JobProcess()
            if self._setup_fnc is not None:
                result = self._setup_fnc(self._proc)
                if inspect.isawaitable(result):
                    await result
        self._jobs += 1
        job_id = "fake-job" if self._jobs == 1 else f"fake-job-{self._jobs}"
        ctx = JobContext(proc=self._proc, room=OfflineRoom(room_name), agent_name=self._agent_name, metadata=metadata, job_id=job_id)
        ctx.components = components_override()  # the stand-ins for cloud models, for the job's whole life
        ctx.on_session_end = self._on_session_end
        ctx._on_session = on_session
        request = JobRequest(job_id, room_name)
        await (self._on_request or _accept_all)(request)
        loop = asyncio.get_running_loop()
        ctx._shutdown = loop.create_future()
        _open_jobs.append(ctx)
        token = _current_job.set(ctx)
        try:
            # The entrypoint runs as its own task (it may keep running after starting the session),
            # in a context where get_job_context() finds this job.
            ctx._entrypoint = loop.create_task(self._entrypoint(ctx))  # copies the context: the job is set
        finally:
            _current_job.reset(token)
        # Back to the caller when the entrypoint returns or once it has started its session (an
        # entrypoint may go on awaiting, e.g. a greeting); an error it raised is raised here.
        started = ctx._started = loop.create_future()
        await asyncio.wait([ctx._entrypoint, started], return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if ctx._entrypoint.done() and (ctx._entrypoint.cancelled() or ctx._entrypoint.exception() is not None):
            await ctx.aclose(reason="job crashed")  # LiveKit's reason when the entrypoint fails
            ctx._entrypoint.result()
        return ctx

    def __repr__(self) -> str:
        name = getattr(self._entrypoint, "__name__", None)
        return f"AgentServer(entrypoint={name!r}, agent_name={self._agent_name!r})"


async def _logged(step: Awaitable[Any], what: str) -> None:
    try:
        await step
    except Exception:
        logger.exception("job shutdown: %s failed", what)


def _running_job_components() -> dict[str, Any] | None:
    ctx = get_job_context(required=False)
    return ctx.components if ctx is not None else None


_offline.job_components = _running_job_components
