"""Starting the production profile from Python: for the fault tests and the benchmark.

`Services` wraps `deploy/services.sh` (PostgreSQL and Redis from Debian packages in a data
folder, on chosen ports); `Profile` runs `scripts/run_prod.sh` against them on free ports
and knows every process it started by its pid file, so a caller can kill one (the profile's
supervisor restarts it) and wait until it serves again.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES_SH = ROOT / "deploy" / "services.sh"
RUN_PROD_SH = ROOT / "scripts" / "run_prod.sh"


class ServicesUnavailable(RuntimeError):
    """PostgreSQL or Redis could not be installed or started on this machine."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True if `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_http(url: str, timeout: float, alive: subprocess.Popen[bytes] | None = None) -> None:
    """Polls `url` until it answers 200 (fails early if `alive` exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:
            raise RuntimeError(f"{alive.args!r} exited with {alive.returncode}")
        if http_ok(url):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def parse_env(text: str) -> dict[str, str]:
    """Parses the `export A='x' B='y'` lines printed by `services.sh env`."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("export "):
            continue
        for part in line[len("export ") :].split(" "):
            if "=" in part:
                key, value = part.split("=", 1)
                env[key] = value.strip("'")
    return env


@dataclass
class Services:
    """PostgreSQL and Redis started by `deploy/services.sh` in `directory`."""

    directory: Path
    pg_port: int
    redis_port: int
    env: dict[str, str] = field(default_factory=dict)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "SERVICES_DIR": str(self.directory),
            "PG_PORT": str(self.pg_port),
            "REDIS_PORT": str(self.redis_port),
        }
        return subprocess.run(
            ["bash", str(SERVICES_SH), *args],
            env=env,
            check=check,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def start(self, what: str = "all") -> None:
        """Starts (installing and initialising if needed) PostgreSQL and/or Redis."""
        result = self._run("start", what, check=False)
        if result.returncode != 0:
            raise ServicesUnavailable(result.stderr.strip()[-2000:] or "services.sh failed")
        self.env = parse_env(self._run("env").stdout)

    def stop(self, what: str = "all") -> None:
        """Stops PostgreSQL and/or Redis."""
        self._run("stop", what)

    def restart(self, what: str) -> None:
        """Stops and starts one service."""
        self._run("restart", what)

    def is_up(self) -> bool:
        """True if both answer."""
        return self._run("status", check=False).returncode == 0

    def psql_url(self, database: str) -> str:
        """A SQLAlchemy/psql URL of one of the profile's databases."""
        base = self.env["DATABASE_URL"].rsplit("/", 1)[0]
        return f"{base}/{database}"


def start_services(directory: Path | None = None) -> Services:
    """Starts PostgreSQL and Redis on free ports in `directory` (default: a new temp dir).

    The folder must be reachable by the `postgres` user when running as root, hence a
    fresh world-traversable folder under the system temp dir rather than pytest's.
    """
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="shop-services-"))
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    services = Services(directory=directory, pg_port=free_port(), redis_port=free_port())
    services.start()
    return services


@dataclass
class Profile:
    """A running `scripts/run_prod.sh` and its processes."""

    process: subprocess.Popen[bytes]
    run_dir: Path
    log_dir: Path
    gateway_url: str
    rasa_url: str
    rasa_servers: list[str]
    actions_servers: list[str]
    gateway_servers: list[str]
    auth_token: str
    env: dict[str, str]

    def pid(self, name: str) -> int | None:
        """The current pid of process `name` (e.g. `rasa-0`, `actions-0`, `gateway-0`)."""
        path = self.run_dir / f"{name}.pid"
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def health_url(self, name: str) -> str:
        """The readiness URL of process `name`."""
        kind, _, index = name.partition("-")
        if kind == "rasa":
            return f"{self.rasa_servers[int(index)]}/status?token={self.auth_token}"
        if kind == "actions":
            return f"{self.actions_servers[int(index)]}/health"
        if kind == "gateway":
            return f"{self.gateway_servers[int(index)]}/health"
        raise ValueError(name)

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """Kills process `name` (the supervisor restarts it); returns the killed pid."""
        pid = self.pid(name)
        if pid is None:
            raise RuntimeError(f"no pid file for {name}")
        os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}").exists() else ""
            if ") Z " in stat:
                break
            time.sleep(0.05)
        return pid

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 300.0) -> int:
        """Waits until `name` runs under a new pid and answers its readiness check."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.pid(name)
            if pid is not None and pid != old_pid and http_ok(self.health_url(name)):
                return pid
            time.sleep(0.5)
        raise TimeoutError(f"{name} did not come back within {timeout:.0f}s")

    def wait_all_ready(self, timeout: float = 300.0) -> None:
        """Waits until every server of the profile answers its readiness check."""
        names = [f"rasa-{i}" for i in range(len(self.rasa_servers))]
        names += [f"actions-{i}" for i in range(len(self.actions_servers))]
        names += [f"gateway-{i}" for i in range(len(self.gateway_servers))]
        deadline = time.monotonic() + timeout
        for name in names:
            wait_http(self.health_url(name), max(1.0, deadline - time.monotonic()), self.process)

    def pids(self) -> dict[str, int]:
        """Every process of the profile that has a pid file, by name."""
        result = {}
        for path in sorted(self.run_dir.glob("*.pid")):
            pid = self.pid(path.stem)
            if pid is not None:
                result[path.stem] = pid
        return result

    def stop(self) -> None:
        """Stops the profile (all its processes; services stay as they are)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_profile(
    services: Services,
    work_dir: Path,
    *,
    rasa_replicas: int = 2,
    gateway_replicas: int = 1,
    actions_replicas: int = 1,
    model: str | None = None,
    seed: str = "force",
    extra_env: Mapping[str, str] | None = None,
    ready_timeout: float = 420.0,
) -> Profile:
    """Runs `scripts/run_prod.sh` on free ports against `services` and waits until ready."""
    run_dir, log_dir = work_dir / "run", work_dir / "log"
    for folder in (run_dir, log_dir):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    taken: set[int] = set()
    gateway_port = _free_block(gateway_replicas + 1, taken)
    rasa_port = _free_block(rasa_replicas + 1, taken)
    actions_port = _free_block(actions_replicas, taken)
    token = "prod-test-rasa-token"
    env = {
        **os.environ,
        **services.env,
        "START_SERVICES": "0",
        "RASA_REPLICAS": str(rasa_replicas),
        "GATEWAY_REPLICAS": str(gateway_replicas),
        "ACTIONS_REPLICAS": str(actions_replicas),
        "GATEWAY_PORT": str(gateway_port),
        "RASA_PORT": str(rasa_port),
        "ACTIONS_PORT": str(actions_port),
        "RUN_DIR": str(run_dir),
        "LOG_DIR": str(log_dir),
        "SEED": seed,
        "RASA_AUTH_TOKEN": token,
        "READY_TIMEOUT": str(int(ready_timeout)),
        "REDIS_LOCK_DB": "1",
        "REDIS_LOCK_PREFIX": "shop",
        **(extra_env or {}),
    }
    if model:
        env["MODEL"] = model
    out = (log_dir / "run_prod.out").open("wb")
    process = subprocess.Popen(
        ["bash", str(RUN_PROD_SH)],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    profile = Profile(
        process=process,
        run_dir=run_dir,
        log_dir=log_dir,
        gateway_url=f"http://127.0.0.1:{gateway_port}",
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        rasa_servers=[f"http://127.0.0.1:{rasa_port + 1 + i}" for i in range(rasa_replicas)],
        actions_servers=[f"http://127.0.0.1:{actions_port + i}" for i in range(actions_replicas)],
        gateway_servers=[
            f"http://127.0.0.1:{gateway_port + 1 + i}" for i in range(gateway_replicas)
        ],
        auth_token=token,
        env=env,
    )
    deadline = time.monotonic() + ready_timeout
    try:
        while not (run_dir / "ready").exists():
            if process.poll() is not None:
                tail = (log_dir / "run_prod.out").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"run_prod.sh exited with {process.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"production profile not ready in {ready_timeout:.0f}s")
            time.sleep(0.5)
    except BaseException:
        profile.stop()
        raise
    return profile


def _free_block(size: int, taken: set[int]) -> int:
    """The first of `size` consecutive free ports, none of them in `taken` (which gets
    them): the blocks of one profile are chosen before anything binds them, so a free
    port is not enough (a later block could land on an earlier one's unbound port)."""
    for _ in range(200):
        start = free_port()
        if start + size >= 65535:
            continue
        ports = range(start, start + size)
        if taken.isdisjoint(ports) and all(_port_free(port) for port in ports):
            taken.update(ports)
            return start
    raise RuntimeError("no block of free ports")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def read_proc_kb(pid: int, field_name: str) -> int | None:
    """A `kB` field of /proc/<pid>/status (VmHWM = peak RSS, VmRSS = current)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def children(pid: int) -> list[int]:
    """Direct children of `pid`."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]
