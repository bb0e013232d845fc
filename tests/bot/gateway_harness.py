"""Starting the gateway as a real process, and a small client for its APIs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
TOKEN_SECRET = "test-customer-token-secret-0123456789abcdef"
SESSION_SECRET = "test-agent-session-secret"
PASSWORD = "correct horse battery"
AGENTS = (
    ("alice", "王芳", "agent"),
    ("bob", "Bob Li", "agent"),
    ("sue", "陈主管", "supervisor"),
)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class GatewayProcess:
    """A running gateway and how to reach it."""

    base_url: str
    database_url: str
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def ws_url(self) -> str:
        """Base URL for WebSocket connections."""
        return self.base_url.replace("http://", "ws://")

    def create_agent(self, username: str, display_name: str, role: str) -> None:
        """Create an inbox account with the CLI (password from the environment)."""
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "create-agent",
                "--username",
                username,
                "--display-name",
                display_name,
                "--role",
                role,
                "--password-env",
                "TEST_AGENT_PASSWORD",
            ],
            cwd=ROOT,
            env={**self.env, "TEST_AGENT_PASSWORD": PASSWORD},
            check=True,
            capture_output=True,
        )

    def log(self) -> str:
        """The gateway's output so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up")


def seed_shop(path: Path) -> str:
    """Seed a small shop database (the demo customers and orders) for the card."""
    url = f"sqlite:///{path}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "actions.shop.seed",
            "--force",
            "--url",
            url,
            "--extra-customers",
            "5",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        capture_output=True,
    )
    return url


def start_gateway(workdir: Path, **overrides: str) -> GatewayProcess:
    """Start ``python -m bot`` with its own database in ``workdir``.

    Args:
        workdir: Folder for the database and the log.
        **overrides: Extra environment variables (RASA_URL, SERVICE_HOURS, ...).

    Returns:
        The running gateway (stop it with :func:`stop_gateway`).
    """
    port = free_port()
    database_url = f"sqlite:///{workdir / 'gateway.db'}"
    if "DATABASE_URL" not in overrides:
        overrides["DATABASE_URL"] = seed_shop(workdir / "shop.db")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "CUSTOMER_TOKEN_SECRET": TOKEN_SECRET,
        "AGENT_SESSION_SECRET": SESSION_SECRET,
        "SERVICE_HOURS": "00:00-24:00",
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "RASA_TIMEOUT": "5",
        "DEMO_MODE": "0",
        **overrides,
    }
    log_path = workdir / "gateway.log"
    handle = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
    )
    gateway = GatewayProcess(f"http://127.0.0.1:{port}", database_url, log_path, env, process)
    try:
        _wait_until_up(f"{gateway.base_url}/health", process)
    except Exception:
        stop_gateway(gateway)
        raise RuntimeError(gateway.log()) from None
    for username, display, role in AGENTS:
        gateway.create_agent(username, display, role)
    return gateway


def restart_gateway(gateway: GatewayProcess) -> None:
    """Start a stopped gateway again on the same port with the same database."""
    stop_gateway(gateway)
    handle = gateway.log_path.open("ab")
    gateway.process = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=ROOT,
        env=gateway.env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    _wait_until_up(f"{gateway.base_url}/health", gateway.process)


def stop_gateway(gateway: GatewayProcess) -> None:
    """Stop the process (terminate, then kill)."""
    if gateway.process.poll() is None:
        gateway.process.terminate()
        try:
            gateway.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gateway.process.kill()
            gateway.process.wait()


class GatewayClient:
    """Small async HTTP/WebSocket client for one gateway (customer and agent sides)."""

    def __init__(self, gateway: GatewayProcess, session: aiohttp.ClientSession) -> None:
        self.gateway = gateway
        self.session = session

    async def send(self, sender: str, text: str, **fields: object) -> tuple[int, dict[str, object]]:
        """POST /api/v1/messages and return (status, body)."""
        body = {"channel": "web", "sender": sender, "text": text, **fields}
        async with self.session.post(
            f"{self.gateway.base_url}/api/v1/messages", json=body
        ) as response:
            return response.status, await response.json()

    async def history(self, sender: str) -> dict[str, object]:
        """POST /api/v1/history."""
        async with self.session.post(
            f"{self.gateway.base_url}/api/v1/history", json={"channel": "web", "sender": sender}
        ) as response:
            assert response.status == 200
            return await response.json()

    async def login(self, username: str, password: str = PASSWORD) -> str:
        """Log an agent in and return the bearer token."""
        async with self.session.post(
            f"{self.gateway.base_url}/api/v1/inbox/login",
            json={"username": username, "password": password},
        ) as response:
            body = await response.json()
            assert response.status == 200, body
            return str(body["token"])

    async def inbox(
        self, method: str, path: str, token: str | None, body: object = None
    ) -> tuple[int, dict[str, object]]:
        """Call the inbox API with a bearer token (or none)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(
            method,
            f"{self.gateway.base_url}/api/v1/inbox{path}",
            json=body,
            headers=headers,
        ) as response:
            return response.status, await response.json()
