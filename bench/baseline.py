"""The baseline of the load benchmark: a bare Rasa project derived from the real one.

Same NLU (the real pipeline and every NLU example), the same responses, and rules only:
each rule of `data/rules/basics.yml` that answers an intent with a response is kept; every
other intent (and `nlu_fallback`) gets one fixed response. No custom actions, forms, stories,
action server or custom slot mappings. The project is built in a temp folder and trained
into `var/bench/models/` (git-ignored), reused while its inputs are unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench" / "models"
FIXED_RESPONSE = "utter_baseline"
FIXED_TEXT = {"zh": "好的，我来帮您看一下。", "en": "Sure, let me check that for you."}


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _dump(data: dict[str, Any], path: Path) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def baseline_domain() -> dict[str, Any]:
    """Intents, entities, responses and the language slot of the real domain."""
    intents = _load(ROOT / "domain" / "intents.yml")
    responses = _load(ROOT / "domain" / "responses.yml")["responses"]
    slots_forms = _load(ROOT / "domain" / "slots_forms.yml")
    language = dict(slots_forms["slots"]["language"])
    language["mappings"] = [{"type": "custom"}]  # set by nobody: the default language
    responses = {
        **responses,
        FIXED_RESPONSE: [
            {
                "condition": [{"type": "slot", "name": "language", "value": "en"}],
                "text": FIXED_TEXT["en"],
            },
            {"text": FIXED_TEXT["zh"]},
        ],
    }
    return {
        "version": "3.1",
        "session_config": slots_forms.get("session_config", {}),
        "intents": intents["intents"],
        "entities": intents.get("entities", []),
        "slots": {"language": language},
        "responses": responses,
    }


def _intent_names(domain: dict[str, Any]) -> list[str]:
    names = []
    for item in domain["intents"]:
        names.append(next(iter(item)) if isinstance(item, dict) else str(item))
    return names


def baseline_rules(domain: dict[str, Any]) -> dict[str, Any]:
    """Response rules of the real project; a fixed response for every other intent."""
    rules = []
    answered: set[str] = set()
    for rule in _load(ROOT / "data" / "rules" / "basics.yml").get("rules", []):
        steps = rule.get("steps", [])
        if rule.get("condition") or len(steps) != 2:
            continue
        intent, action = steps[0].get("intent"), steps[1].get("action")
        if intent and isinstance(action, str) and action in domain["responses"]:
            rules.append({"rule": rule["rule"], "steps": steps})
            answered.add(intent)
    for intent in [*_intent_names(domain), "nlu_fallback"]:
        if intent not in answered:
            rules.append(
                {
                    "rule": f"baseline {intent}",
                    "steps": [{"intent": intent}, {"action": FIXED_RESPONSE}],
                }
            )
    return {"version": "3.1", "rules": rules}


def baseline_config() -> dict[str, Any]:
    """The real NLU pipeline (paths made absolute) with the rule policy only."""
    config = _load(ROOT / "config.yml")
    for component in config["pipeline"]:
        path = component.get("dictionary_path")
        if path and not os.path.isabs(path):
            component["dictionary_path"] = str(ROOT / path)
    config["policies"] = [{"name": "RulePolicy"}]
    return config


def write_project(folder: Path) -> None:
    """Writes config.yml, domain.yml and data/ (NLU copied, rules generated)."""
    domain = baseline_domain()
    _dump(baseline_config(), folder / "config.yml")
    _dump(domain, folder / "domain.yml")
    shutil.copytree(ROOT / "data" / "nlu", folder / "data" / "nlu")
    _dump(baseline_rules(domain), folder / "data" / "rules.yml")


def fingerprint(folder: Path) -> str:
    """Hash of the generated project, the custom components and the Rasa version."""
    import rasa

    digest = hashlib.sha256(rasa.__version__.encode())
    for base in (folder, ROOT / "components"):
        for file in sorted(p for p in base.rglob("*") if p.is_file()):
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(base)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def build_baseline_model(log: Path | None = None) -> Path:
    """Returns the baseline model, training it in a temp folder when its inputs changed."""
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        folder = Path(tmp)
        write_project(folder)
        name = f"baseline-{fingerprint(folder)}"
        model = OUT / f"{name}.tar.gz"
        if model.exists():
            return model
        OUT.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
        with (log or Path(os.devnull)).open("w") as handle:
            subprocess.run(
                [
                    str(Path(sys.executable).parent / "rasa"),
                    "train",
                    "--config", str(folder / "config.yml"),
                    "--domain", str(folder / "domain.yml"),
                    "--data", str(folder / "data"),
                    "--out", str(OUT),
                    "--fixed-model-name", name,
                ],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        for old in OUT.glob("baseline-*.tar.gz"):
            if old != model:
                old.unlink()
        return model


if __name__ == "__main__":
    print(build_baseline_model())
