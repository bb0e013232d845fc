"""The held-out understanding benchmark must never leak into the training data.

Every utterance of every CSV in the shared eval folder is normalised (all whitespace
removed, lower-cased); those of at least 4 characters are checked against every line of
every file under ``data/``, normalised the same way after removing YAML list dashes,
surrounding quotes and Rasa entity markup (``[text](entity)``, ``[text]{...}``).

An utterance leaks when it equals such a line, or, if it has at least 8 characters,
occurs inside one. Short utterances are only matched whole: a plain substring search
over whole files would flag YAML structure (a 7-letter benchmark greeting inside
``intent: goodbye``) and any example that merely starts with a greeting word.

Failures name the CSV row, never its text. The test is skipped only when the eval
folder is absent.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
MIN_LENGTH = 4
MIN_SUBSTRING_LENGTH = 8

_LIST_DASH = re.compile(r"^\s*-\s+")
_ENTITY_MARKUP = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def eval_dir() -> Path:
    """``$SHARED/eval`` if ``SHARED`` is set, else the project root's sibling."""
    shared = os.environ.get("SHARED")
    return Path(shared) / "eval" if shared else ROOT.parent / "shared" / "eval"


def normalise(text: str) -> str:
    return "".join(text.split()).lower()


def normalise_line(line: str) -> str:
    """A data line as text: no list dash, entity markup or surrounding quotes."""
    text = _ENTITY_MARKUP.sub(r"\1", _LIST_DASH.sub("", line))
    return normalise(text).strip("\"'")


def benchmark_utterances(folder: Path) -> dict[str, str]:
    """Normalised utterance -> "file.csv:row" of its first occurrence."""
    utterances: dict[str, str] = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            column = header.index("text") if "text" in header else 0
            for row_number, row in enumerate(reader, start=2):
                if len(row) <= column:
                    continue
                text = normalise(row[column])
                if len(text) >= MIN_LENGTH:
                    utterances.setdefault(text, f"{path.name}:{row_number}")
    return utterances


def leaks_in(path: Path, utterances: dict[str, str]) -> list[str]:
    lines = {
        normalise_line(line)
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
    }
    lines.discard("")
    joined = "\n".join(lines)
    found: list[str] = []
    for text, origin in utterances.items():
        if text in lines or (len(text) >= MIN_SUBSTRING_LENGTH and text in joined):
            found.append(f"{path.relative_to(ROOT)} holds benchmark row {origin}")
    return found


def test_no_benchmark_utterance_in_training_data() -> None:
    folder = eval_dir()
    if not folder.is_dir():
        pytest.skip(f"benchmark folder {folder} is absent; nothing to guard")
    utterances = benchmark_utterances(folder)
    assert utterances, f"{folder} exists but no utterances were read from its CSV files"

    leaks: list[str] = []
    for path in sorted(p for p in DATA_DIR.rglob("*") if p.is_file()):
        leaks.extend(leaks_in(path, utterances))

    assert not leaks, (
        f"{len(leaks)} held-out benchmark utterance(s) found in data/ "
        "(remove them; never copy or paraphrase the benchmark):\n" + "\n".join(leaks)
    )
