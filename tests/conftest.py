"""Shared fixtures: the trained model and the real servers, started once per test run.

`rasa_stack` trains (or reuses, by fingerprint) the model, seeds a fresh SQLite shop
database and starts the real action server and Rasa server on free ports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import free_port, stop_process, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
RASA_TOKEN = "test-rasa-token"


@dataclass(frozen=True)
class RasaStack:
    """URLs of the running servers and the database they use."""

    rasa_url: str
    actions_url: str
    database_url: str
    model_path: Path
    auth_token: str = RASA_TOKEN


def seed_database(path: Path) -> str:
    """Creates and seeds a SQLite shop database at `path`; returns its URL."""
    url = f"sqlite:///{path}"
    subprocess.run(
        [sys.executable, "-m", "actions.shop.seed", "--force", "--url", url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    return url


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The model for the current inputs (trained only if they changed)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py")],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return Path(result.stdout.strip().splitlines()[-1])


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Starts a server with its output in `log`."""
    handle = log.open("w")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)


@pytest.fixture(scope="session")
def rasa_stack(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RasaStack]:
    """The real action server and Rasa server over a freshly seeded database."""
    workdir = tmp_path_factory.mktemp("stack")
    database_url = seed_database(workdir / "shop.db")
    actions_port, rasa_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    actions = start_process(
        [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions",
         "--port", str(actions_port)],
        env,
        workdir / "actions.log",
    )
    rasa = start_process(
        [str(VENV_BIN / "python"), "-m", "deploy.rasa_main", "run", "--model", str(trained_model),
         "--port", str(rasa_port),
         "--enable-api", "--auth-token", RASA_TOKEN, "--credentials", "credentials.yml",
         "--endpoints", "endpoints.yml"],
        env,
        workdir / "rasa.log",
    )
    try:
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions)
        wait_until_up(f"http://127.0.0.1:{rasa_port}/status?token={RASA_TOKEN}", rasa)
        yield RasaStack(
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            actions_url=f"http://127.0.0.1:{actions_port}",
            database_url=database_url,
            model_path=trained_model,
        )
    finally:
        stop_process(rasa)
        stop_process(actions)
