"""Deploy: the engine's bindings carried to the serving side.

After ``engine`` and ``report`` in the layer order: it reads a manifest (never a model) and writes a
Triton model repository entry whose config states exactly the engine's bindings, checks a config
written elsewhere against them, and writes a runtime snippet that allocates them. Nothing here
decides anything about the model; the one choice, Triton batching, follows from the bindings and
``--max-batch`` (:func:`trtready.deploy.triton.batch_size`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from trtready.deploy.bindings import Binding, EngineContract, engine_contract
from trtready.outputs import Kind, Output, use_session
from trtready.version import __version__

if TYPE_CHECKING:
    from trtready.outputs import OutputSession

__all__ = ["Binding", "ConfigCheck", "DeployResult", "EngineContract", "TritonRequest", "check_config",
           "deploy", "engine_contract", "made_repo", "stage_triton"]


@dataclass(frozen=True)
class TritonRequest:
    """``--triton REPO [--max-batch N] [--instances N] [--name NAME]``: where and how to serve."""

    repo: Path
    name: str
    max_batch: int | None = None
    instances: int | None = None

    @property
    def folder(self) -> Path:
        return Path(self.repo) / self.name


@dataclass
class DeployResult:
    folder: Path
    name: str
    max_batch_size: int
    written: list[Path]
    contract: EngineContract
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"triton": {"folder": str(self.folder), "name": self.name, "max_batch_size": self.max_batch_size,
                           "notes": list(self.notes)}}


@dataclass
class ConfigCheck:
    """``check-config``: truthy when the config agrees with the engine; one line per mismatch."""

    config: Path
    manifest: Path
    mismatches: list[str]

    def __bool__(self) -> bool:
        return not self.mismatches


@contextlib.contextmanager
def made_repo(repo: Path | None) -> Iterator[None]:
    """A missing model repository folder made for the run (one level: its parent must exist; a jailed
    run needs it before it starts), and taken away again when the run leaves it empty: a failed run
    leaves nothing behind. Everything else about the folder is judged by the run's output checks."""
    created = False
    if repo is not None:
        with contextlib.suppress(OSError):
            if not repo.exists() and not repo.is_symlink() and repo.parent.is_dir():
                repo.mkdir()
                created = True
    try:
        yield
    finally:
        if created and repo is not None:
            with contextlib.suppress(OSError):
                repo.rmdir()  # only when empty: a model written into it stays


def stage_triton(contract: EngineContract, request: TritonRequest, session: OutputSession) -> DeployResult:
    """Write ``REPO/NAME`` into its staging folder of ``session`` (whose outputs include it); the caller
    commits it (``session.commit(request.folder)``) once everything else of the run is ready."""
    from trtready.deploy.triton import library_note, model_config, write_model

    cfg = model_config(contract, request.name, request.max_batch, request.instances)
    source = "".join(c if c.isprintable() else "?" for c in contract.manifest.name)  # one comment line, always
    header = [f"written by trtready {__version__} from {source} "
              f"(engine sha256 {contract.engine_sha256[:16]}…); check with: trtready check-config"]
    write_model(contract, cfg, session.stage(request.folder), header)
    note = library_note(contract)
    return DeployResult(request.folder, request.name, cfg.max_batch_size, [], contract, [note] if note else [])


def deploy(manifest: Path, repo: Path, *, name: str | None = None, max_batch: int | None = None,
           instances: int | None = None, force: bool = False, session: OutputSession | None = None) -> DeployResult:
    """``deploy MANIFEST --triton REPO``: ``REPO/NAME/config.pbtxt``, ``1/model.plan``, ``run_engine.py``.

    Checked and locked before anything is written; an existing ``REPO/NAME`` is replaced only with
    ``force`` and only when trtready wrote it (docs/hardening.md)."""
    from trtready.deploy.triton import check_name, default_name

    contract = engine_contract(Path(manifest))
    request = TritonRequest(Path(repo), check_name(name or default_name(contract.engine)), max_batch, instances)
    with made_repo(request.repo), use_session(session, [Output(request.folder, Kind.FOLDER)],
                                              [contract.manifest, contract.engine], force) as s:
        result = stage_triton(contract, request, s)
        result.written = s.commit(request.folder)
    return result


def check_config(manifest: Path, config: Path) -> ConfigCheck:
    """Every disagreement between ``config`` (a Triton ``config.pbtxt``) and the engine of ``manifest``."""
    from trtready.deploy.triton import check_config as check, parse_config

    contract = engine_contract(Path(manifest))
    return ConfigCheck(Path(config), Path(manifest), check(contract, parse_config(Path(config))))
