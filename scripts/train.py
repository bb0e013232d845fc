"""Trains the Rasa model only when its inputs changed, and prints the model's path.

The fingerprint covers everything training reads: config, domain, training data, the
custom NLU components and their dictionary, and the Rasa version. A model named after the
fingerprint is reused as it is, so `make run` and `make test` train once per change.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
INPUTS = ("config.yml", "domain", "data", "components", "i18n")
KEEP = 3


def fingerprint() -> str:
    """Hash of every file training depends on."""
    import rasa

    digest = hashlib.sha256(rasa.__version__.encode())
    for name in INPUTS:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def prune(keep: Path) -> None:
    """Removes all but the newest few models."""
    models = sorted(MODELS.glob("shop-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[KEEP:]:
        if old != keep:
            old.unlink()


def main() -> int:
    """Trains if needed; prints the model path on the last line."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_responses.py")], check=True)
    name = f"shop-{fingerprint()}"
    model = MODELS / f"{name}.tar.gz"
    if model.exists():
        print(f"model up to date: {model}", file=sys.stderr)
    else:
        print(f"training {name} ...", file=sys.stderr)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run(
            [
                str(Path(sys.executable).parent / "rasa"),
                "train",
                "--config", "config.yml",
                "--domain", "domain",
                "--data", "data",
                "--out", str(MODELS),
                "--fixed-model-name", name,
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
    (MODELS / "latest").write_text(str(model) + "\n")
    prune(model)
    print(model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
