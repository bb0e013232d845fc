"""Rasa's own checks: data validation and the test stories of every flow, both languages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RASA = str(Path(sys.executable).parent / "rasa")
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Runs the rasa CLI in the project root."""
    return subprocess.run(
        [RASA, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=1800
    )


def test_training_data_is_valid() -> None:
    """`rasa data validate` finds no errors (warnings about action-sent responses are fine)."""
    result = run(["data", "validate", "--domain", "domain", "--data", "data",
                  "--config", "config.yml"])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_story_conflicts_absent() -> None:
    """No two stories or rules predict different actions for the same history."""
    result = run(["data", "validate", "stories", "--domain", "domain", "--data", "data",
                  "--config", "config.yml", "--max-history", "5"])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "conflict" not in result.stdout.lower().replace("no story structure conflicts", "")


def test_test_stories_pass(trained_model: Path, tmp_path: Path) -> None:
    """Every test story (zh and en) is predicted exactly: intents, entities, actions."""
    result = run(["test", "core", "--model", str(trained_model), "--stories", "tests/stories",
                  "--fail-on-prediction-errors", "--out", str(tmp_path)])
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text(encoding="utf-8") if failed.exists() else ""
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-3000:] + details)[-8000:]
