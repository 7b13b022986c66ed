"""The local stack's supervisor: `python -m local_stack` (what `make run` runs).

It starts every part as a process of its own (its own process group), prints their output in one
stream with a prefix per part, restarts a part that dies (with backoff; it gives up after a few
quick crashes in a row), and on one Ctrl-C / SIGTERM stops every process group it started and
checks that the ports are free again.

    [moto]       moto's server: SNS, SQS, SES on AWS_PORT
    [setup]      topology + SES identity on moto, databases migrated and seeded (then exits)
    [shop]       shop_api behind gunicorn on SHOP_PORT
    [factory]    factory_api behind gunicorn on FACTORY_PORT
    [consumers]  one Lambda-like SQS poller per queue and per DLQ (local_stack.event_sources)
    [relay]      the outbox sweep every few seconds (local_stack.relay)

Before it starts anything it checks that the three ports are free, so starting it twice (or with
a port taken) ends with one clear line and exit status 2.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field

from local_stack import stack_config
from local_stack.stack_config import ROOT, ConfigError, StackConfig, redact

PYTHON = sys.executable
QUICK_CRASH_SECONDS = 30.0  # a part that dies sooner than this after its start crashed "quickly"
MAX_QUICK_CRASHES = 5  # in a row: then the supervisor gives up and stops everything
BACKOFF_SECONDS = 1.0  # before the first restart; doubled for every quick crash in a row
MAX_BACKOFF_SECONDS = 16.0
STARTUP_TIMEOUT_SECONDS = 90.0
SETUP_TIMEOUT_SECONDS = 180.0
STOP_GRACE_SECONDS = 8.0  # per process group, after SIGTERM, before SIGKILL

EXIT_OK, EXIT_FAILED, EXIT_CANNOT_START = 0, 1, 2
# Set by programs that start the stack for a while (the demo, the tests): stop when they die,
# instead of running on as an orphan.
EXIT_WITH_PARENT = "LOCAL_STACK_EXIT_WITH_PARENT"
READY_TEXT = "Local stack ready"  # the ready line starts with this (tests wait for it)
BANNER_RULE = "=" * 78  # opens and closes the ready banner: the launcher waits for the whole of it

# Request-log lines of moto (werkzeug) and gunicorn that succeeded: noise unless LOCAL_VERBOSE=1.
_MOTO_OK_REQUEST = re.compile(r'"[A-Z]+ [^"]*" [123]\d\d ')
_HEALTH_PROBE = re.compile(r'"GET /health[ ?][^"]*" 200 ')
_MOTO_BANNER = re.compile(r"development server|Press CTRL\+C to quit")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_COLOURS = {"stack": "1", "moto": "35", "setup": "36", "shop": "32", "factory": "33",
            "consumers": "34", "relay": "96"}


class Console:
    """One output stream; every line carries the name of the part that wrote it."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.lock = threading.RLock()  # the signal handler may write while the main thread does
        self.colour = (hasattr(self.stream, "isatty") and self.stream.isatty()
                       and not os.environ.get("NO_COLOR"))
        self.width = max(len(n) for n in _COLOURS)

    def line(self, part: str, text: str) -> None:
        prefix = f"[{part}]".ljust(self.width + 2)
        if self.colour:
            prefix = f"\033[{_COLOURS.get(part, '0')}m{prefix}\033[0m"
        with self.lock:
            try:
                self.stream.write(f"{prefix} {text}\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError):  # nobody reads our output any more
                pass

    def say(self, text: str) -> None:
        self.line("stack", text)


@dataclass
class Part:
    name: str
    argv: list[str]
    is_ready: Callable[[Part], bool]
    ready_marker: str | None = None
    quiet: Callable[[str], bool] = lambda line: False
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_crashes: int = 0
    restart_at: float | None = None
    down: bool = False  # crashed and not ready again yet
    marker_seen: threading.Event = field(default_factory=threading.Event)
    pump: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


# --- checks that need nothing started ----------------------------------------------------------

def port_problem(host: str, port: int) -> str | None:
    """None if we can listen on host:port (as gunicorn and moto will), else why not."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((host, port)) == 0:
            return "already in use"
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            sock.bind((host, port))
        except PermissionError:
            return "not allowed (a privileged port?)"
        except OSError as exc:
            return "already in use" if exc.errno in (98, 48) else str(exc)
    return None


def answers(url: str, timeout: float = 1.0) -> int | None:
    """The HTTP status `url` answers with, or None if nothing answers."""
    try:
        # urlopen (bandit B310) only ever opens the stack's own health URLs, built from its settings
        with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec B310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def busy_ports_message(config: StackConfig) -> str | None:
    problems = {name: (port, port_problem(config.host, port))
                for name, port in config.ports().items()}
    taken = {name: (port, why) for name, (port, why) in problems.items() if why}
    if not taken:
        return None
    listed = ", ".join(f"{port} ({name}) {why}" for name, (port, why) in taken.items())
    # A worker's first request registers the app's routes (api_common.app.build_routes): up to
    # seconds on a loaded machine, which must not read as "another program".
    if answers(f"{config.shop_url}/health", timeout=5.0) == 200:
        guess = f"the local stack seems to be running already ({config.shop_url} answers)"
    else:
        guess = "another program listens there"
    return (f"local stack: cannot start: port {listed}: {guess}. Stop it, or choose other ports, "
            f"e.g. SHOP_PORT=5100 FACTORY_PORT=5101 AWS_PORT=5102 make run")


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


# --- the supervisor ----------------------------------------------------------------------------

class Supervisor:
    def __init__(self, config: StackConfig, console: Console | None = None):
        self.config = config
        self.console = console or Console()
        self.env = stack_config.child_environment(config)
        self.stopping = threading.Event()
        self.stop_reason = ""
        self.force = False
        self.failure: str | None = None
        self.started = time.monotonic()
        self.parent = os.getppid() if os.environ.get(EXIT_WITH_PARENT) == "1" else None
        self.parts: dict[str, Part] = {}
        self._define_parts()

    # -- what runs ------------------------------------------------------------------------------
    def _define_parts(self) -> None:
        c = self.config
        verbose = c.verbose

        def http_ok(url: str, statuses=(200,)):
            return lambda part: part.running and answers(url) in statuses

        def marker(part: Part) -> bool:
            return part.running and part.marker_seen.is_set()

        def gunicorn(module: str, port: int) -> list[str]:
            return [PYTHON, "-m", "gunicorn", f"{module}.wsgi:app", "--bind", f"{c.host}:{port}",
                    "--name", module.removesuffix("_api"),  # the service of its JSON log lines
                    "--logger-class", "local_stack.gunicorn_logging.Logger",
                    "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                    "--graceful-timeout", "3", "--timeout", "60", "--log-level", "info",
                    "--no-control-socket",  # else every gunicorn shares ~/.gunicorn/gunicorn.ctl
                    "--access-logfile", "-", "--error-logfile", "-",
                    "--access-logformat", '%(h)s "%(r)s" %(s)s %(b)s %(L)ss']

        quiet_http = (lambda line: False) if verbose else (
            lambda line: bool(_HEALTH_PROBE.search(line)))
        quiet_moto = (lambda line: False) if verbose else (
            lambda line: bool(_MOTO_OK_REQUEST.search(line) or _MOTO_BANNER.search(line)))
        self.parts = {p.name: p for p in (
            Part("moto", [PYTHON, "-m", "moto.server", "-H", c.host, "-p", str(c.aws_port)],
                 # any HTTP answer means the server is up
                 lambda part: part.running and answers(f"{c.aws_url}/moto-api/") is not None,
                 quiet=quiet_moto),
            Part("shop", gunicorn("shop_api", c.shop_port), http_ok(f"{c.shop_url}/health"),
                 quiet=quiet_http),
            Part("factory", gunicorn("factory_api", c.factory_port),
                 http_ok(f"{c.factory_url}/health"), quiet=quiet_http),
            Part("consumers", [PYTHON, "-m", "local_stack.event_sources"], marker,
                 ready_marker=stack_config.EVENT_SOURCES_READY),
            Part("relay", [PYTHON, "-m", "local_stack.relay"], marker,
                 ready_marker=stack_config.RELAY_READY),
        )}

    # -- processes ------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        env = {**self.env, **stack_config.part_environment(self.config, name)}
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: killpg reaches all

    def _pump(self, name: str, stream, part: Part | None = None) -> None:
        for raw in iter(stream.readline, b""):
            line = _ANSI.sub("", raw.decode("utf-8", "replace").rstrip())
            ready_marker = part.ready_marker if part is not None else None
            marker = bool(ready_marker and ready_marker in line)
            if part is None or not part.quiet(line):
                self.console.line(name, line)
            # Set after the line is out, so the ready banner never comes before it.
            if marker and part is not None:
                part.marker_seen.set()
        stream.close()

    def start(self, part: Part) -> None:
        part.marker_seen.clear()
        part.process = self._spawn(part.name, part.argv)
        part.started_at = time.monotonic()
        part.pump = threading.Thread(target=self._pump, args=(part.name, part.process.stdout, part),
                                     name=f"pump-{part.name}", daemon=True)
        part.pump.start()

    def _signal_group(self, process: subprocess.Popen, signum: int) -> bool:
        """Signal the process group `process` leads; False when no process is left in it."""
        try:
            os.killpg(process.pid, signum)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:  # pragma: no cover - a group we no longer own
            return False

    def _group_alive(self, process: subprocess.Popen) -> bool:
        process.poll()  # reap the leader, or it stays in its group as a zombie
        return self._signal_group(process, 0)

    def stop_processes(self, processes: list[tuple[str, subprocess.Popen]]) -> None:
        """SIGTERM every group, wait for all of them, SIGKILL what is left after the grace."""
        first = signal.SIGKILL if self.force else signal.SIGTERM
        for _, process in processes:
            self._signal_group(process, first)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline and not self.force:
            if not any(self._group_alive(p) for _, p in processes):
                break
            time.sleep(0.05)
        for name, process in processes:
            if self._group_alive(process):
                if not self.force:
                    self.console.say(f"{name} did not stop within "
                                     f"{STOP_GRACE_SECONDS:.0f}s: killing it")
                self._signal_group(process, signal.SIGKILL)
        for _, process in processes:
            with suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored: rare
                process.wait(timeout=5)
        kill_deadline = time.monotonic() + 5
        while time.monotonic() < kill_deadline and any(self._group_alive(p) for _, p in processes):
            time.sleep(0.05)  # orphaned workers die of SIGKILL in a moment

    # -- crashes and restarts -------------------------------------------------------------------
    def _on_exit(self, part: Part, process: subprocess.Popen) -> None:
        code = process.returncode
        ran = time.monotonic() - part.started_at
        self._signal_group(process, signal.SIGKILL)  # workers it may have left behind
        if part.pump:
            part.pump.join(1)  # its last lines first: they usually say why
        part.process = None
        part.down = True
        part.quick_crashes = part.quick_crashes + 1 if ran < QUICK_CRASH_SECONDS else 1
        if part.quick_crashes >= MAX_QUICK_CRASHES:
            self.fail(f"{part.name} crashed {part.quick_crashes} times in a row, each within "
                      f"{QUICK_CRASH_SECONDS:.0f}s of starting (last: {describe_exit(code)}); "
                      f"giving up. The [{part.name}] lines above say why.")
            return
        delay = min(BACKOFF_SECONDS * 2 ** (part.quick_crashes - 1), MAX_BACKOFF_SECONDS)
        self.console.say(f"{part.name} stopped unexpectedly ({describe_exit(code)}, after "
                         f"{ran:.1f}s); restarting it in {delay:g}s "
                         f"(quick crash {part.quick_crashes} of {MAX_QUICK_CRASHES - 1} allowed)")
        part.restart_at = time.monotonic() + delay

    def tick(self) -> None:
        """Notice exits, restart what is due, announce parts that are back."""
        if self.stopping.is_set():
            return
        if self.parent is not None and os.getppid() != self.parent:
            self.stop_reason = "the program that started the stack has gone"
            self.stopping.set()
            return
        now = time.monotonic()
        for part in self.parts.values():
            if part.process is not None and part.process.poll() is not None:
                self._on_exit(part, part.process)
                if self.stopping.is_set():
                    return
            elif part.process is None and part.restart_at is not None and now >= part.restart_at:
                part.restart_at = None
                self.console.say(f"restarting {part.name}")
                self.start(part)
            elif part.down and part.process is not None and part.is_ready(part):
                if part.name == "moto":  # it keeps everything in memory: recreate the topology
                    self.console.say("moto answers again, but lost its queues and messages: "
                                     "recreating the topology (unpublished outbox rows are resent "
                                     "by the relay; messages that were in the queues are gone)")
                    if not self.run_setup(messaging_only=True):
                        return
                part.down = False
                self.console.say(f"{part.name} is back")

    def fail(self, message: str) -> None:
        if self.failure is None:
            self.failure = message
            self.console.say(f"ERROR: {message}")
        self.stopping.set()

    # -- waiting, stop-aware --------------------------------------------------------------------
    def wait_until(self, condition: Callable[[], bool], timeout: float,
                   what: str | Callable[[], str]) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            self.tick()
            if self.stopping.is_set():
                return False
            if condition():
                return True
            if time.monotonic() > deadline:
                what = what() if callable(what) else what
                self.fail(f"{what} not ready after {timeout:.0f}s; the lines above may say why")
                return False
            time.sleep(0.1)

    def run_setup(self, messaging_only: bool = False) -> bool:
        argv = [PYTHON, "-m", "local_stack.bootstrap"]
        if messaging_only:
            argv.append("--messaging-only")
        process = self._spawn("setup", argv)
        pump = threading.Thread(target=self._pump, args=("setup", process.stdout), daemon=True)
        pump.start()
        deadline = time.monotonic() + SETUP_TIMEOUT_SECONDS
        while process.poll() is None:
            if self.stopping.is_set() or time.monotonic() > deadline:
                self.stop_processes([("setup", process)])
                pump.join(1)
                if not self.stopping.is_set():
                    self.fail(f"setup did not finish within {SETUP_TIMEOUT_SECONDS:.0f}s")
                return False
            time.sleep(0.05)
        pump.join(2)
        if process.returncode != 0:
            self.fail(f"setup failed ({describe_exit(process.returncode)}); see the [setup] "
                      "lines above")
            return False
        return True

    # -- the whole run --------------------------------------------------------------------------
    def _on_signal(self, signum, _frame) -> None:
        if self.stopping.is_set():
            if not self.force:
                self.force = True
                self.console.say("second signal: killing everything now")
            return
        self.stop_reason = signal.Signals(signum).name
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def run(self) -> int:
        self.install_signal_handlers()
        self.console.say(f"starting the local stack from {ROOT}")
        try:
            if self._start_everything():
                self.announce_ready()
                while not self.stopping.is_set():
                    self.tick()
                    self.stopping.wait(0.25)
        finally:
            self.shutdown()
        if self.failure:
            return EXIT_FAILED
        return EXIT_OK

    def _start_everything(self) -> bool:
        moto = self.parts["moto"]
        self.start(moto)
        if not self.wait_until(lambda: moto.is_ready(moto), 30,
                               f"moto on {self.config.aws_url} was"):
            return False
        moto.down = False
        if not self.run_setup():
            return False
        for name in ("factory", "shop", "consumers", "relay"):
            self.start(self.parts[name])
        others = [p for p in self.parts.values() if p.name != "moto"]
        pending = set(p.name for p in others)

        def all_ready() -> bool:
            for part in others:
                if part.name in pending and part.is_ready(part):
                    pending.discard(part.name)
                    part.down = False
            return not pending

        return self.wait_until(all_ready, STARTUP_TIMEOUT_SECONDS,
                               lambda: "the part(s) " + ", ".join(sorted(pending)) + " were")

    def announce_ready(self) -> None:
        c, say = self.config, self.console.say
        say(BANNER_RULE)
        say(f"{READY_TEXT} in {time.monotonic() - self.started:.1f}s: shop {c.shop_url} | "
            f"factory {c.factory_url} | moto {c.aws_url} | API docs {c.shop_url}/docs "
            f"{c.factory_url}/docs")
        say(f"  databases: shop {redact(c.shop_database_url)}")
        say(f"             factory {redact(c.factory_database_url)}")
        lead = (f"{c.production_seconds}s (PRODUCTION_SECONDS)" if c.production_seconds is not None
                else "the factories' own (10s, 20s; set PRODUCTION_SECONDS to change)")
        say(f"  production lead time: {lead}; SQS visibility timeout {c.visibility_timeout}s")
        t = c.timeouts
        say(f"  replenishment deadlines: accept within {t.accept_seconds}s, at most "
            f"{t.max_requests} requests, grace {t.grace_seconds}s after the factory's due time "
            f"(REPLENISHMENT_ACCEPT_SECONDS / _MAX_REQUESTS / _GRACE_SECONDS); checked every "
            f"{c.lifecycle_interval:g}s; operator e-mails to {c.operator_email}")
        token_note = ("generated for this session; set ADMIN_TOKEN to choose one"
                      if c.admin_token_generated else "from ADMIN_TOKEN")
        say(f"  admin token: {c.admin_token}  ({token_note})")
        say("  factory writes: SigV4-signed by the consumers with a key pair made for this run")
        say(f"  try: curl {c.shop_url}/item   or: make demo   |   Ctrl-C stops everything")
        say(BANNER_RULE)

    def shutdown(self) -> None:
        started = time.monotonic()
        if self.stop_reason:
            self.console.say(f"{self.stop_reason}: stopping everything")
        self.stopping.set()
        apps = [(p.name, p.process) for p in self.parts.values()
                if p.process is not None and p.name != "moto"]
        self.stop_processes(apps)  # the apps first: they may still talk to moto while they stop
        moto = self.parts.get("moto")
        if moto is not None and moto.process is not None:
            self.stop_processes([("moto", moto.process)])
        for part in self.parts.values():
            if part.pump:
                part.pump.join(1)
        busy = [f"{port} ({name})" for name, port in self.config.ports().items()
                if port_problem(self.config.host, port)]
        if busy:
            self.console.say(f"stopped, but port(s) {', '.join(busy)} still in use")
        else:
            self.console.say(f"stopped everything in {time.monotonic() - started:.1f}s; ports "
                             f"{', '.join(str(p) for p in self.config.ports().values())} are free")


def main(argv: list[str] | None = None) -> int:
    try:
        config = stack_config.load()
    except ConfigError as exc:
        print(f"local stack: cannot start: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    message = busy_ports_message(config)
    if message:
        print(message, file=sys.stderr)
        return EXIT_CANNOT_START
    return Supervisor(config).run()
