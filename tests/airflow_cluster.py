"""A real Airflow cluster on loopback, without containers, for the distributed tests.

PostgreSQL from Debian's server binaries (a throwaway cluster, run as the ``postgres`` user
when the tests run as root, which PostgreSQL refuses), ``redis-server`` as the Celery broker,
then Airflow's API server, scheduler, DAG processor and Celery workers. Every process starts
in its own session, so a test can kill a worker with everything it forked (Airflow puts each
task in a process group of its own), like a machine that is lost. Everything lives under one
directory; the logs stay there and ``ClusterProcesses.log_tails`` shows what went wrong.

Module-level imports are the standard library only: Celery workers import
``worker_hostname`` from here for every task they run.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
AIRFLOW = Path(sys.executable).parent / "airflow"
WORKER_NAME_VARIABLE = "OSINT_TEST_AIRFLOW_WORKER"
T = TypeVar("T")

__all__ = [
    "AirflowCluster",
    "ClusterProcesses",
    "airflow_cluster",
    "missing_prerequisites",
    "wait_for",
    "worker_hostname",
]


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the test's workers: each worker's own name.

    The workers share one machine here, so the FQDN that Airflow records by default would
    not tell them apart; on a real cluster each machine has its own."""
    return os.environ.get(WORKER_NAME_VARIABLE) or socket.getfqdn()


# --- programs -----------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL server's ``bin`` (``/usr/lib/postgresql/N/bin``), or
    wherever ``initdb`` is on the PATH."""
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _celery_provider_installed() -> bool:
    # Not by import: importing airflow would configure it in the test process (~/airflow).
    try:
        importlib.metadata.distribution("apache-airflow-providers-celery")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def missing_prerequisites() -> list[str]:
    """What this machine lacks to run the cluster, as install hints (empty when complete)."""
    missing = []
    if not _celery_provider_installed():
        missing.append("Airflow's Celery provider (pip install 'apache-airflow[celery,postgres]')")
    for module, hint in (
        ("psycopg2", "psycopg2-binary"),
        # Airflow 3 opens its metadata database with an async driver too.
        ("asyncpg", "'apache-airflow[postgres]'"),
    ):
        if importlib.util.find_spec(module) is None:
            missing.append(f"{module} (pip install {hint})")
    if postgres_bin_dir() is None:
        missing.append("PostgreSQL server (apt-get install postgresql)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server (apt-get install redis-server)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser (apt-get install util-linux)")
    return missing


# --- processes ----------------------------------------------------------------------------


def session_members(sid: int) -> list[int]:
    """The live (not zombie) processes of session ``sid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp session …; comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            members.append(int(entry.name))
    return members


def _signal_all(pids: Sequence[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


@dataclass
class Service:
    """One long-running program, the leader of its own session."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    # How to ask for a clean stop: a signal for the leader, or a function for special cases.
    stop_request: Callable[[Service], None] | None = None
    killed: bool = False  # deliberately, by the test

    @property
    def pid(self) -> int:
        return self.process.pid

    def members(self) -> list[int]:
        self.process.poll()  # reap the leader, or it stays a member as a zombie
        return session_members(self.pid)

    def request_stop(self) -> None:
        if self.stop_request is not None:
            self.stop_request(self)
        else:
            _signal_all(self.members(), signal.SIGTERM)

    def kill(self, timeout: float = 10) -> list[int]:
        """SIGKILL the whole session: frozen first so nothing forks in between. Returns the
        pids that were killed."""
        killed: list[int] = []
        deadline = time.monotonic() + timeout
        while members := self.members():
            _signal_all(members, signal.SIGSTOP)
            _signal_all(members, signal.SIGKILL)
            killed += [pid for pid in members if pid not in killed]
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: processes {members} survive SIGKILL")
            time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        return killed


@dataclass
class ClusterProcesses:
    """Every program started for the cluster, and the logs they write."""

    log_dir: Path
    services: list[Service] = field(default_factory=list)

    def log_path(self, name: str) -> Path:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"{name}.log"

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        stop_request: Callable[[Service], None] | None = None,
    ) -> Service:
        log = self.log_path(name)
        with log.open("ab") as output:
            process = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(name, process, log, stop_request)
        self.services.append(service)
        return service

    def run(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], timeout: float = 300
    ) -> None:
        """Run a command to its end, output appended to ``<name>.log``; fail on non-zero."""
        log = self.log_path(name)
        with log.open("ab") as output:
            done = subprocess.run(
                list(argv),
                env=dict(env),
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}; see {log}")

    def check_alive(self) -> None:
        """Raise when a program died that the test did not kill."""
        for service in self.services:
            if not service.killed and service.process.poll() is not None:
                raise RuntimeError(
                    f"{service.name} exited with {service.process.returncode}; see {service.log}"
                )

    def stop(self, services: Sequence[Service], grace: float = 10) -> None:
        """Ask each to stop, wait up to ``grace`` seconds, then kill what is left."""
        for service in services:
            with contextlib.suppress(OSError):
                service.request_stop()
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(s.members() for s in services):
            time.sleep(0.2)
        for service in services:
            service.kill()

    def log_tails(self, lines: int = 40, extra: Sequence[Path] = ()) -> str:
        """The last lines of every log, for a failure report."""
        parts = []
        for path in [*sorted(self.log_dir.glob("*.log")), *extra]:
            try:
                text = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            parts.append(f"----- {path} (last {len(text)} lines) -----\n" + "\n".join(text))
        return "\n".join(parts)


def wait_for(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.5,
    alive: Callable[[], None] | None = None,
) -> T:
    """Poll ``probe`` until it returns something truthy; ``alive`` raises when waiting is
    hopeless (a service died)."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None:
            alive()
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:g} s for {what}")
        time.sleep(interval)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- PostgreSQL and Redis -----------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str
    password: str
    database: str

    def url(self, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"


def _as_postgres_user(argv: Sequence[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the ``postgres`` OS user then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


def _stop_postgres(data: Path) -> Callable[[Service], None]:
    def fast_shutdown(service: Service) -> None:
        # SIGINT to the postmaster itself (not runuser, which would escalate to SIGKILL):
        # a fast shutdown that leaves no shared memory behind.
        try:
            postmaster = int((data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            _signal_all(service.members(), signal.SIGTERM)
            return
        os.kill(postmaster, signal.SIGINT)

    return fast_shutdown


@contextlib.contextmanager
def running_postgres(processes: ClusterProcesses) -> Iterator[Postgres]:
    """A fresh PostgreSQL cluster on a free loopback port with a database for Airflow.

    Its data directory is outside the test's temporary directory, which the ``postgres``
    user cannot enter; it is removed afterwards."""
    import psycopg2

    bin_dir = postgres_bin_dir()
    assert bin_dir is not None, "no PostgreSQL server installed"
    root = Path(tempfile.mkdtemp(prefix="osint-archive-pg-"))
    try:
        data, superuser_password = root / "data", secrets.token_hex(16)
        (root / "pwfile").write_text(superuser_password + "\n")
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
            shutil.chown(root / "pwfile", "postgres", "postgres")
        env = {**_base_env(), "LC_ALL": "C.UTF-8"}
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8"]
        initdb += ["--auth-local=peer", "--auth-host=scram-sha-256", "--no-sync"]
        initdb += [f"--pwfile={root / 'pwfile'}"]
        processes.run("postgres-initdb", _as_postgres_user(initdb), env, timeout=120)
        port = unused_port()
        postgres = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port)]
        # A throwaway cluster: durability off for speed; the socket in its own directory.
        for option in (
            "listen_addresses=127.0.0.1",
            f"unix_socket_directories={root}",
            "max_connections=200",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
        ):
            postgres += ["-c", option]
        server = processes.start(
            "postgres", _as_postgres_user(postgres), env, stop_request=_stop_postgres(data)
        )

        def connect() -> Any:
            try:
                return psycopg2.connect(
                    host="127.0.0.1",
                    port=port,
                    user="postgres",
                    password=superuser_password,
                    dbname="postgres",
                    connect_timeout=2,
                )
            except psycopg2.OperationalError:
                return None

        connection = wait_for(connect, 60, "PostgreSQL to accept connections", 0.2)
        db = Postgres(port, "airflow", secrets.token_hex(12), "airflow")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE ROLE {db.user} LOGIN PASSWORD %s", (db.password,))
                cursor.execute(f"CREATE DATABASE {db.database} OWNER {db.user}")
        finally:
            connection.close()
        try:
            yield db
        finally:
            processes.stop([server], grace=15)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running_redis(processes: ClusterProcesses, directory: Path) -> Iterator[str]:
    """``redis-server`` on a free loopback port, nothing persisted; yields its URL."""
    directory.mkdir(parents=True, exist_ok=True)
    port = unused_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(directory)]
    server = processes.start("redis", argv, _base_env())

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_for(answers, 30, "redis-server to answer PING", 0.1, processes.check_alive)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        processes.stop([server])


# --- Airflow ------------------------------------------------------------------------------


def _base_env() -> dict[str, str]:
    """The test process's environment without any Airflow or osint-archive settings."""
    prefixes = ("AIRFLOW", "OSINT_ARCHIVE_", WORKER_NAME_VARIABLE)
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def airflow_env(
    home: Path, db: Postgres, broker_url: str, api_port: int, extra: Mapping[str, str]
) -> dict[str, str]:
    """The environment every Airflow process of the cluster shares."""
    from cryptography.fernet import Fernet

    env = _base_env()
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=db.url(),
        AIRFLOW__CELERY__BROKER_URL=broker_url,
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3: name the installed driver.
        AIRFLOW__CELERY__RESULT_BACKEND=db.url("db+postgresql+psycopg2"),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{api_port}",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__API__WORKERS="1",
        # No login: the simple auth manager treats every request as an admin's.
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        # Shared by every component: the scheduler signs the tokens the API server checks.
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
        AIRFLOW__API__SECRET_KEY=secrets.token_urlsafe(32),
        AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        # Fast enough for a test: find the DAG files at once, notice a lost task in ~20 s.
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="1",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="20",
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="2",
        AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL="3",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
    )
    env.update(extra)
    return env


@dataclass
class AirflowCluster:
    """The running cluster: its REST API, its workers and its processes."""

    home: Path
    api_url: str
    env: dict[str, str]
    processes: ClusterProcesses
    workers: dict[str, Service]

    # -- REST --------------------------------------------------------------------------

    def request(self, method: str, path: str, body: object = None, ok_404: bool = False) -> Any:
        """Call the REST API; JSON in and out. ``None`` for a 404 when ``ok_404``."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.api_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            if ok_404 and err.code == 404:
                return None
            detail = err.read().decode(errors="replace")
            raise RuntimeError(f"{method} {path} answered {err.code}: {detail}") from err

    def healthy(self) -> bool:
        try:
            health = self.request("GET", "/api/v2/monitor/health")
        except (OSError, RuntimeError):
            return False
        return all(
            health.get(part, {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "dag_processor")
        )

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        return self.request("GET", f"/api/v2/dags/{_quote(dag_id)}", ok_404=True)

    def import_errors(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/api/v2/importErrors")["import_errors"])

    def unpause(self, dag_id: str) -> None:
        done = self.request("PATCH", f"/api/v2/dags/{_quote(dag_id)}", {"is_paused": False})
        assert done["is_paused"] is False, done

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = {"logical_date": None, "conf": dict(conf or {})}
        return dict(self.request("POST", f"/api/v2/dags/{_quote(dag_id)}/dagRuns", body))

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}"))

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/api/v2/dags/{_quote(dag_id)}/dagRuns")["dag_runs"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}/taskInstances"
        return list(self.request("GET", path)["task_instances"])

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any] | None:
        path = f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}/taskInstances/{task_id}"
        return self.request("GET", path, ok_404=True)

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Every attempt of a task instance, oldest first (the current one included)."""
        path = (
            f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}/taskInstances/{task_id}/tries"
        )
        tries = self.request("GET", path)["task_instances"]
        return sorted(tries, key=lambda t: int(t["try_number"]))

    def asset_events(self) -> list[dict[str, Any]]:
        """Every asset event, with the DAG runs each one started (``created_dagruns``)."""
        return list(self.request("GET", "/api/v2/assets/events?limit=100")["asset_events"])

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = (
            f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}/taskInstances/"
            f"{task_id}/xcomEntries/{key}?deserialize=true"
        )
        return self.request("GET", path)["value"]

    # -- waiting and killing -------------------------------------------------------------

    def wait(self, probe: Callable[[], T | None], timeout: float, what: str) -> T:
        """``wait_for`` that fails fast when a cluster process died."""
        return wait_for(probe, timeout, what, 0.5, self.check_alive)

    def check_alive(self) -> None:
        self.processes.check_alive()

    def wait_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """Wait until the DAG processor has stored ``dag_id``; a DAG file's import error
        fails at once with its message."""

        def parsed() -> dict[str, Any] | None:
            dag = self.dag(dag_id)
            if dag is None and (errors := self.import_errors()):
                raise RuntimeError(f"DAG import errors: {json.dumps(errors, indent=1)}")
            return dag

        return self.wait(parsed, timeout, f"DAG {dag_id} to be parsed")

    def wait_run_finished(self, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            run = self.dag_run(dag_id, run_id)
            return run if run["state"] in ("success", "failed") else None

        return self.wait(finished, timeout, f"{dag_id} run {run_id} to finish")

    def kill_worker(self, name: str) -> list[int]:
        """SIGKILL a worker with every process it started: its Celery pool, the task
        supervisor and the task (in a process group of its own) and anything those forked."""
        worker = self.workers[name]
        worker.killed = True
        return worker.kill()

    def task_logs(self) -> list[Path]:
        return sorted((self.home / "logs").rglob("*.log"))


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def celery_workers_answering(broker_url: str) -> set[str]:
    """Names of the Celery workers that answer a ping on the broker."""
    from celery import Celery

    app = Celery(broker=broker_url)
    try:
        replies = app.control.ping(timeout=1.0) or []
    finally:
        app.close()
    return {name for reply in replies for name in reply}


@contextlib.contextmanager
def airflow_cluster(
    directory: Path,
    osint_env: Mapping[str, str],
    pools: Mapping[str, Mapping[str, object]],
    workers: Sequence[str] = ("w1", "w2"),
    timings: dict[str, float] | None = None,
) -> Iterator[AirflowCluster]:
    """PostgreSQL, Redis and Airflow (API server, scheduler, DAG processor, one Celery
    worker per name in ``workers``, concurrency 1) under ``directory``; ``osint_env`` is
    added to every Airflow process's environment, ``pools`` imported before the scheduler
    starts. Stopped, and every process killed, on the way out, even when the body fails;
    then the log tails are printed if it failed."""
    timings = {} if timings is None else timings
    processes = ClusterProcesses(directory / "logs")
    clock = time.monotonic()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[name] = round(now - clock, 1)
        clock = now

    cluster: AirflowCluster | None = None
    try:
        with contextlib.ExitStack() as stack:
            db = stack.enter_context(running_postgres(processes))
            phase("postgres")
            broker_url = stack.enter_context(running_redis(processes, directory / "redis"))
            phase("redis")
            home = directory / "airflow"
            home.mkdir(parents=True, exist_ok=True)
            api_port = unused_port()
            env = airflow_env(home, db, broker_url, api_port, osint_env)
            processes.run("airflow-db-migrate", [str(AIRFLOW), "db", "migrate"], env)
            phase("airflow db migrate")
            pools_file = home / "pools.json"
            pools_file.write_text(json.dumps(pools, indent=1))
            processes.run("airflow-pools", [str(AIRFLOW), "pools", "import", str(pools_file)], env)
            phase("pools import")
            airflow_services: list[Service] = []
            # Stop Airflow before the database and broker it uses.
            stack.callback(lambda: processes.stop(airflow_services))
            airflow_services += [
                processes.start(
                    "api-server", [str(AIRFLOW), "api-server", "--port", str(api_port)], env
                ),
                processes.start("scheduler", [str(AIRFLOW), "scheduler"], env),
                processes.start("dag-processor", [str(AIRFLOW), "dag-processor"], env),
            ]
            started_workers = {}
            for name in workers:
                worker_env = {
                    **env,
                    WORKER_NAME_VARIABLE: name,
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
                    # ``tests`` is not installed: the callable is imported from the checkout.
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
                }
                argv = [str(AIRFLOW), "celery", "worker", "--celery-hostname", f"{name}@%h"]
                argv += ["--concurrency", "1", "--skip-serve-logs"]
                argv += ["--pid", str(home / f"worker-{name}.pid")]
                started_workers[name] = processes.start(f"worker-{name}", argv, worker_env)
                airflow_services.append(started_workers[name])
            cluster = AirflowCluster(
                home, f"http://127.0.0.1:{api_port}", env, processes, started_workers
            )
            cluster.wait(cluster.healthy, 120, "the API server, scheduler and DAG processor")

            def workers_ready() -> bool:
                names = celery_workers_answering(broker_url)
                return all(any(n.startswith(f"{w}@") for n in names) for w in workers)

            cluster.wait(workers_ready, 120, f"Celery workers {', '.join(workers)} to answer")
            phase("services healthy")
            try:
                yield cluster
            finally:
                clock = time.monotonic()  # the test's own phases are not the cluster's
    except BaseException:
        extra = cluster.task_logs() if cluster is not None else []
        print(processes.log_tails(extra=extra), file=sys.stderr)
        raise
    finally:
        # Whatever an interrupted start-up or stop left running.
        processes.stop([s for s in processes.services if s.members()], grace=0)
        phase("teardown")
