"""Train only when the training data changed: models are named by a fingerprint of their inputs."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

TRAINING_INPUTS = ("config.yml", "domain.yml", "data")
# Rasa's `train` command with the product's fixes to Rasa installed (bot/rasa_server.py, bot/rasa_fixes/)
TRAIN_COMMAND = [sys.executable, "-m", "bot.rasa_server", "train", "--config", "config.yml", "--domain", "domain.yml",
                 "--data", "data"]


def fingerprint(project_root: Path) -> str:
    """A digest of every file the model is trained from, by path and content."""
    digest = hashlib.sha256()
    for name in TRAINING_INPUTS:
        path = project_root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(project_root).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def model_path(project_root: Path) -> Path:
    return project_root / "models" / f"assistant-{fingerprint(project_root)}.tar.gz"


def ensure_model(project_root: Path) -> Path:
    """The model matching the training data, trained now if it does not exist yet."""
    model = model_path(project_root)
    if model.exists():
        return model
    print(f"Training the assistant ({model.name}); this takes a few minutes…", flush=True)
    subprocess.run(
        [*TRAIN_COMMAND, "--out", "models", "--fixed-model-name", model.name[: -len(".tar.gz")]],
        cwd=project_root, check=True,
    )
    prune_models(model)
    return model


def prune_models(keep: Path, spare: int = 2) -> None:
    """Old models pile up at tens of MB each: keep the new one and the `spare` newest before it."""
    older = sorted((p for p in keep.parent.glob("assistant-*.tar.gz") if p != keep),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in older[spare:]:
        stale.unlink()
