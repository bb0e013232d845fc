#!/usr/bin/env python
"""Topic accuracy of the trained NLU model on the held-out benchmark (``make eval``).

The benchmark is the CSV files in the shared eval folder (``$SHARED/eval``, or the
project root's sibling ``shared/eval``): real or third-party customer utterances with
their original dataset labels. The folder's ``topics.yml`` maps each label of each file
to one of nine customer needs ("topics"); ``data/topics.yml`` maps each of the bot's
intents to a topic. A prediction is correct when the predicted intent's topic equals the
label's topic. ``nlu_fallback``, an intent whose topic is ``none`` and an intent missing
from ``data/topics.yml`` count as wrong.

The benchmark is held out: this script reads it at run time only, prints aggregate
figures, and never writes anything into ``data/``.

Usage::

    python scripts/eval_topics.py [--model models/x.tar.gz] [--json results/eval.json]
                                  [--limit 50] [--eval-dir DIR] [--topics FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
FALLBACK_INTENT = "nlu_fallback"
NO_TOPIC = {"", "none", "null", "~"}
# Which benchmark files make up which language's figures.
LANGUAGE_OF_FILE_PREFIX = {"zh": "zh", "en": "en"}

logger = logging.getLogger("eval_topics")


@dataclass(frozen=True)
class Example:
    """One benchmark utterance with its gold topic."""

    text: str
    label: str
    topic: str
    file: str
    language: str


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one example."""

    example: Example
    intent: str | None
    confidence: float
    topic: str | None

    @property
    def is_fallback(self) -> bool:
        return self.intent == FALLBACK_INTENT

    @property
    def correct(self) -> bool:
        return not self.is_fallback and self.topic is not None and self.topic == self.example.topic


# ------------------------------------------------------------------------- inputs


def default_eval_dir() -> Path:
    """``$SHARED/eval`` if ``SHARED`` is set, else ``<project root>/../shared/eval``."""
    shared = os.environ.get("SHARED")
    if shared:
        return Path(shared) / "eval"
    return PROJECT_ROOT.parent / "shared" / "eval"


def newest_model(models_dir: Path) -> Path:
    """The model ``scripts/train.py`` recorded in ``models/latest``, else the newest."""
    latest = models_dir / "latest"
    if latest.is_file():
        recorded = Path(latest.read_text(encoding="utf-8").strip())
        if recorded.is_file():
            return recorded
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit(f"No model in {models_dir}; run `make train` first.")
    return models[-1]


def _topic_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text.lower() in NO_TOPIC else text


def load_bot_topics(path: Path) -> dict[str, str | None]:
    """Reads the bot's intent -> topic map.

    Accepted shapes: ``{intent: topic}``, the same under one top-level key (for
    example ``topics:``), or ``{topic: [intent, ...]}``.
    """
    if not path.is_file():
        raise SystemExit(f"{path} is missing: it maps the bot's intents to topics.")
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(content, dict):
        raise SystemExit(f"{path} must hold a mapping.")
    mapping: Any = content
    if len(content) == 1:
        only = next(iter(content.values()))
        if isinstance(only, dict):
            mapping = only
    result: dict[str, str | None] = {}
    for key, value in mapping.items():
        if isinstance(value, list):
            for intent in value:
                result[str(intent)] = _topic_or_none(key)
        elif isinstance(value, dict):
            result[str(key)] = _topic_or_none(value.get("topic"))
        else:
            result[str(key)] = _topic_or_none(value)
    return result


def language_of(file_name: str) -> str:
    """``zh.csv`` -> zh; ``en.csv`` and ``en_supplement_clinc150.csv`` -> en."""
    stem = Path(file_name).name.split(".")[0]
    prefix = stem.split("_")[0].lower()
    return LANGUAGE_OF_FILE_PREFIX.get(prefix, prefix)


def _evenly_spaced(rows: Sequence[Example], limit: int | None) -> list[Example]:
    if not limit or limit >= len(rows):
        return list(rows)
    step = len(rows) / limit
    return [rows[int(i * step)] for i in range(limit)]


def load_benchmark(eval_dir: Path, limit: int | None = None) -> tuple[list[Example], Counter]:
    """Reads every CSV named in ``topics.yml``; returns examples and skipped labels."""
    topics_file = eval_dir / "topics.yml"
    if not topics_file.is_file():
        raise SystemExit(f"No benchmark: {topics_file} is missing.")
    spec = yaml.safe_load(topics_file.read_text(encoding="utf-8")) or {}
    labels: dict[str, dict[str, str]] = spec.get("labels") or {}
    examples: list[Example] = []
    skipped: Counter = Counter()
    for file_name, label_topics in sorted(labels.items()):
        path = eval_dir / file_name
        if not path.is_file():
            logger.warning(f"{path} is listed in topics.yml but missing; skipped.")
            continue
        rows: list[Example] = []
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                text = (row.get("text") or "").strip()
                label = (row.get("intent") or row.get("label") or "").strip()
                topic = (label_topics or {}).get(label)
                if not text:
                    continue
                if topic is None:
                    skipped[f"{file_name}:{label}"] += 1
                    continue
                rows.append(Example(text, label, topic, file_name, language_of(file_name)))
        examples.extend(_evenly_spaced(rows, limit))
    return examples, skipped


# ------------------------------------------------------------------------ parsing


def _top_confidence(parse: dict[str, Any]) -> float:
    """Confidence of the classifier's best real intent (ignoring ``nlu_fallback``)."""
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
    if ranking:
        return float(max(r.get("confidence") or 0.0 for r in ranking))
    return float((parse.get("intent") or {}).get("confidence") or 0.0)


class Parser:
    """Parses texts with a loaded Rasa ``Agent`` (``await agent.parse_message(text)``).

    Rasa's DIETClassifier predicts one message at a time even when its graph node gets
    a list, so handing the graph batches gains little (about 10% in a measurement); the
    public API is used instead.
    """

    def __init__(self, model_path: Path) -> None:
        from rasa.core.agent import Agent

        self.agent = Agent.load(str(model_path))

    async def parse_all(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        return [await self.agent.parse_message(text) for text in texts]


def predict(
    examples: Sequence[Example],
    parses: Sequence[dict[str, Any]],
    bot_topics: dict[str, str | None],
) -> list[Prediction]:
    predictions: list[Prediction] = []
    for example, parse in zip(examples, parses, strict=True):
        intent = (parse.get("intent") or {}).get("name")
        topic = bot_topics.get(intent) if intent else None
        predictions.append(Prediction(example, intent, _top_confidence(parse), topic))
    return predictions


# ------------------------------------------------------------------------ figures


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def quartiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"min": None, "q1": None, "median": None, "q3": None, "max": None}
    ordered = sorted(values)
    if len(ordered) >= 2:
        q1, median, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = median = q3 = ordered[0]
    return {
        "min": round(ordered[0], 4),
        "q1": round(q1, 4),
        "median": round(median, 4),
        "q3": round(q3, 4),
        "max": round(ordered[-1], 4),
    }


def summarise(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """Accuracy, per-topic accuracy, confusions, fallback rate, confidence quartiles."""
    total = len(predictions)
    correct = sum(p.correct for p in predictions)
    fallbacks = sum(p.is_fallback for p in predictions)
    per_topic: dict[str, list[Prediction]] = defaultdict(list)
    for p in predictions:
        per_topic[p.example.topic].append(p)
    confusions = Counter(
        (p.example.topic, p.intent or "<none>") for p in predictions if not p.correct
    )
    return {
        "n": total,
        "accuracy": _rate(correct, total),
        "fallback_rate": _rate(fallbacks, total),
        "per_topic": {
            topic: {
                "n": len(items),
                "accuracy": _rate(sum(p.correct for p in items), len(items)),
            }
            for topic, items in sorted(per_topic.items())
        },
        "top_confusions": [
            {"gold_topic": gold, "predicted_intent": intent, "count": count}
            for (gold, intent), count in confusions.most_common(10)
        ],
        "confidence": quartiles([p.confidence for p in predictions]),
    }


def report(predictions: Sequence[Prediction]) -> dict[str, Any]:
    by_language: dict[str, list[Prediction]] = defaultdict(list)
    by_file: dict[str, list[Prediction]] = defaultdict(list)
    for p in predictions:
        by_language[p.example.language].append(p)
        by_file[p.example.file].append(p)
    unmapped = Counter(
        p.intent for p in predictions if p.intent and not p.is_fallback and p.topic is None
    )
    return {
        "overall": summarise(predictions),
        # Chinese first, then English, then anything else
        "languages": {
            lang: summarise(by_language[lang])
            for lang in sorted(by_language, key=lambda x: (x != "zh", x != "en", x))
        },
        "files": {
            name: {
                "n": len(items),
                "accuracy": _rate(sum(p.correct for p in items), len(items)),
            }
            for name, items in sorted(by_file.items())
        },
        "predicted_intents_without_topic": dict(unmapped.most_common()),
    }


def _pct(value: float | None) -> str:
    return "  n/a" if value is None else f"{100 * value:5.1f}%"


def print_report(figures: dict[str, Any], out: Any = sys.stdout) -> None:
    def line(text: str = "") -> None:
        print(text, file=out)

    overall = figures["overall"]
    line(f"model: {figures['model']}")
    line(f"benchmark: {figures['eval_dir']}  ({overall['n']} utterances)")
    line()
    line("topic accuracy")
    for lang, stats in figures["languages"].items():
        line(
            f"  {lang:8s} {_pct(stats['accuracy'])}  (n={stats['n']}, "
            f"fallback {_pct(stats['fallback_rate'])})"
        )
    line(
        f"  {'overall':8s} {_pct(overall['accuracy'])}  (n={overall['n']}, "
        f"fallback {_pct(overall['fallback_rate'])})"
    )
    for name, stats in figures["files"].items():
        line(f"    {name:32s} {_pct(stats['accuracy'])}  (n={stats['n']})")
    for lang, stats in figures["languages"].items():
        line()
        line(f"[{lang}] per-topic accuracy")
        for topic, topic_stats in stats["per_topic"].items():
            line(f"  {topic:16s} {_pct(topic_stats['accuracy'])}  (n={topic_stats['n']})")
        line(f"[{lang}] most frequent confusions (gold topic -> predicted intent)")
        for item in stats["top_confusions"]:
            line(f"  {item['count']:4d}  {item['gold_topic']} -> {item['predicted_intent']}")
        conf = stats["confidence"]
        line(
            f"[{lang}] intent confidence: min {conf['min']}  q1 {conf['q1']}  "
            f"median {conf['median']}  q3 {conf['q3']}  max {conf['max']}"
        )
    conf = overall["confidence"]
    line()
    line(
        f"intent confidence (all): min {conf['min']}  q1 {conf['q1']}  "
        f"median {conf['median']}  q3 {conf['q3']}  max {conf['max']}"
    )
    if figures["predicted_intents_without_topic"]:
        line(
            "predicted intents missing from data/topics.yml (counted wrong): "
            + ", ".join(figures["predicted_intents_without_topic"])
        )
    if figures["skipped_labels"]:
        line(f"skipped rows with labels missing from topics.yml: {figures['skipped_labels']}")
    timing = figures["timing"]
    line(
        f"parsed {overall['n']} utterances in {timing['parse_seconds']}s "
        f"({timing['parses_per_second']}/s); model load {timing['load_seconds']}s"
    )


# --------------------------------------------------------------------------- main


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model archive (default: newest)")
    parser.add_argument("--models-dir", type=Path, default=PROJECT_ROOT / "models")
    parser.add_argument("--eval-dir", type=Path, default=None)
    parser.add_argument("--topics", type=Path, default=DATA_DIR / "topics.yml")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--limit", type=int, help="at most N utterances per file")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    eval_dir = args.eval_dir or default_eval_dir()
    if args.json and _inside(args.json, DATA_DIR):
        raise SystemExit("Refusing to write into data/: choose another --json path.")
    examples, skipped = load_benchmark(eval_dir, args.limit)
    if not examples:
        raise SystemExit(f"No benchmark utterances found in {eval_dir}.")
    bot_topics = load_bot_topics(args.topics)
    model = args.model or newest_model(args.models_dir)

    started = time.perf_counter()
    parser = Parser(model)
    loaded = time.perf_counter()
    parses = await parser.parse_all([e.text for e in examples])
    parsed = time.perf_counter()

    figures = report(predict(examples, parses, bot_topics))
    figures.update(
        {
            "model": str(model),
            "eval_dir": str(eval_dir),
            "skipped_labels": dict(skipped),
            "timing": {
                "load_seconds": round(loaded - started, 2),
                "parse_seconds": round(parsed - loaded, 2),
                "parses_per_second": round(len(examples) / max(parsed - loaded, 1e-9), 1),
            },
        }
    )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    figures = asyncio.run(run(args))
    print_report(figures)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
