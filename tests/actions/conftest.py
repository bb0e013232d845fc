"""Fixtures for the shop-data tests: one default-size seeded SQLite template per session,
copied into a fresh file per module (reads) or per test (writes)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from actions.shop.db import build_engine
from actions.shop.policy import utcnow
from actions.shop.repository import ShopRepository
from actions.shop.seed import seed


@dataclass(frozen=True)
class Seeded:
    """A seeded template database file and the moment it was seeded."""

    path: Path
    now: datetime
    counts: dict[str, int]
    seconds: float


def sqlite_url(path: Path) -> str:
    """SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """Seeds the default size (fixture + 400 generated customers) once per session."""
    path = tmp_path_factory.mktemp("shop-template") / "shop.db"
    engine = build_engine(sqlite_url(path))
    now = utcnow()
    started = time.perf_counter()
    counts = seed(engine, now=now)
    seconds = time.perf_counter() - started
    engine.dispose()
    return Seeded(path, now, counts, seconds)


def _copy(template: Seeded, target_dir: Path) -> Engine:
    target = target_dir / "shop.db"
    shutil.copyfile(template.path, target)
    return build_engine(sqlite_url(target))


@pytest.fixture(scope="module")
def engine(seeded_template: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A seeded database shared by the tests of one module (for reads)."""
    eng = _copy(seeded_template, tmp_path_factory.mktemp("shop-module"))
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def repo(engine: Engine) -> ShopRepository:
    """Repository over the module's database."""
    return ShopRepository(engine)


@pytest.fixture()
def fresh_engine(seeded_template: Seeded, tmp_path: Path) -> Iterator[Engine]:
    """A seeded database of its own, for a test that writes."""
    eng = _copy(seeded_template, tmp_path)
    yield eng
    eng.dispose()


@pytest.fixture()
def fresh_repo(fresh_engine: Engine) -> ShopRepository:
    """Repository over a database of the test's own."""
    return ShopRepository(fresh_engine)


@pytest.fixture(scope="session")
def now(seeded_template: Seeded) -> datetime:
    """The moment the template was seeded (fixture day offsets are relative to it)."""
    return seeded_template.now
