"""Model manifest, download and verification (`counterwatch models ...`).

Downloads are explicit (a person runs `models fetch`); nothing in the pipeline or the
tests fetches silently. A download goes to a hidden temporary file next to the
target, is checked against the manifest's sha256 and only then renamed into place,
so an interrupted or corrupted download never leaves a file that looks usable.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.core.errors import ConfigError, ModelNotFoundError
from pipeline.core.fetch import ChecksumError, DownloadError, download, sha256_file
from pipeline.core.modelpath import PROJECT_MODELS, models_dirs
from pipeline.detectors.ultralytics_backend import import_ultralytics

MANIFEST = PROJECT_MODELS / "manifest.yaml"


class FetchError(ModelNotFoundError):
    """A model could not be downloaded or did not verify."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    file: str
    url: str
    sha256: str | None
    license: str
    source: str
    kind: str = "detector"
    input: str = ""
    notes: str = ""
    export: str | None = None
    also_accepted_sha256: tuple[str, ...] = field(default_factory=tuple)
    recipe: dict | None = None  # built, not downloaded: {weights: NAME.pt, imgsz: N, dynamic: bool}
    offline: str = ""  # which file of the offline model folder stands in for this one

    @property
    def built(self) -> bool:
        return self.recipe is not None

    def accepts(self, digest: str) -> bool:
        return digest == self.sha256 or digest in self.also_accepted_sha256


_REQUIRED = ("name", "file", "url", "license", "source")
_FIELDS = set(ModelEntry.__dataclass_fields__)


def load_manifest(path: str | Path = MANIFEST) -> list[ModelEntry]:
    """Parse models/manifest.yaml; errors name the file, the entry and the field."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"model manifest {p} not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"model manifest {p}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("models"), list):
        raise ConfigError(f"model manifest {p}: expected a mapping with a 'models' list")
    out: list[ModelEntry] = []
    for i, item in enumerate(raw["models"]):
        where = f"model manifest {p} models[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a mapping")
        where = f"{where} ({item.get('name', '?')})"
        for key in _REQUIRED:
            if not item.get(key):
                raise ConfigError(f"{where}: field {key!r} is required")
        unknown = set(item) - _FIELDS
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        sha = item.get("sha256")
        for s in [sha, *item.get("also_accepted_sha256", [])]:
            if s is not None and (len(str(s)) != 64 or any(c not in "0123456789abcdef" for c in str(s))):
                raise ConfigError(f"{where}: field 'sha256': {s!r} is not 64 lowercase hex digits")
        recipe = item.get("recipe")
        if recipe is not None:
            if not isinstance(recipe, dict) or not str(recipe.get("weights", "")).endswith(".pt"):
                raise ConfigError(f"{where}: field 'recipe' needs 'weights' (an Ultralytics .pt entry of this manifest)")
            if not isinstance(recipe.get("imgsz"), int) or not 32 <= recipe["imgsz"] <= 4096:
                raise ConfigError(f"{where}: field 'recipe.imgsz' must be an integer input size (32..4096)")
            extra = set(recipe) - {"weights", "imgsz", "dynamic", "opset"}
            if extra:
                raise ConfigError(f"{where}: field 'recipe': unknown key(s) {', '.join(sorted(extra))}")
        item = dict(item)
        item["also_accepted_sha256"] = tuple(item.get("also_accepted_sha256", []))
        out.append(ModelEntry(**item))
    names = [e.name for e in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"model manifest {p}: name(s) {', '.join(dup)} appear more than once")
    return out


def find_entry(entries: list[ModelEntry], name: str) -> ModelEntry:
    for e in entries:
        if name in (e.name, e.file):
            return e
    raise ConfigError(f"model {name!r} is not in the manifest (known: {', '.join(e.name for e in entries)})")


def locate(entry: ModelEntry) -> Path | None:
    """Where the model is found in the models directories, or None."""
    for d in models_dirs():
        cand = d / entry.file
        if cand.is_file():
            return cand
    return None


def default_dest() -> Path:
    env = os.environ.get("COUNTERWATCH_MODELS_DIR")
    return Path(env) if env else PROJECT_MODELS


def build(entry: ModelEntry, entries: list[ModelEntry], dest: Path, *, progress: bool = True,
          timeout_s: float = 30.0, force: bool = False) -> tuple[Path, str]:
    """Make a recipe entry: fetch its official weights, export them with the `ultralytics` extra.

    The export goes to a hidden .part file first and is renamed into place only when it
    loads in onnxruntime, so a failed export never leaves a usable-looking file.
    """
    dest = Path(dest)
    target = dest / entry.file
    if target.is_file() and not force:
        return target, sha256_file(target)
    recipe = entry.recipe or {}
    weights = find_entry(entries, recipe["weights"])
    pt, _ = fetch(weights, dest, progress=progress, timeout_s=timeout_s)

    yolo_cls = import_ultralytics(f"models fetch {entry.name} (an export recipe)")
    dynamic = bool(recipe.get("dynamic", False))
    out = Path(yolo_cls(str(pt)).export(format="onnx", imgsz=int(recipe["imgsz"]), dynamic=dynamic, simplify=True,
                                        opset=int(recipe.get("opset", 17))))
    tmp = dest / f".{entry.file}.part"
    shutil.move(str(out), tmp)
    try:
        import onnxruntime as ort

        ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise FetchError(f"export of {entry.name} from {weights.file} does not load in onnxruntime: {exc}") from None
    os.replace(tmp, target)
    return target, sha256_file(target)


def fetch(
    entry: ModelEntry, dest: Path, *, progress: bool = True, timeout_s: float = 30.0, force: bool = False
) -> tuple[Path, str]:
    """Download `entry` into `dest`, verify its sha256, rename into place. Returns (path, sha256).

    An existing file that verifies is kept (no download) unless `force`.
    """
    dest = Path(dest)
    target = dest / entry.file
    if target.is_file() and not force:
        digest = sha256_file(target)
        if entry.sha256 is None or entry.accepts(digest):
            return target, digest
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"cannot create models folder {dest}: {exc.strerror}") from None
    shipped = PROJECT_MODELS / entry.file  # a model the project ships in git (models/counterwatch_phone.onnx)
    if shipped.is_file() and entry.sha256 and entry.accepts(sha256_file(shipped)):
        if shipped.resolve() != target.resolve():
            shutil.copy2(shipped, target)
        return target, entry.sha256
    accepted = (entry.sha256, *entry.also_accepted_sha256) if entry.sha256 is not None else None
    try:
        digest = download(entry.url, target, accepted, timeout_s=timeout_s,
                          progress=entry.file if progress else None, leave=False,
                          headers={"User-Agent": "counterwatch-models-fetch"})
    except DownloadError as exc:
        if exc.status is not None:
            raise FetchError(f"download of {entry.name} from {entry.url} failed: HTTP {exc.status} {exc.reason}"
                             ) from None
        raise FetchError(
            f"could not download {entry.name} from {entry.url} ({exc.reason}); this machine may be offline: "
            f"copy {entry.file} into {dest} by hand" + (f" (sha256 {entry.sha256})" if entry.sha256 else "")
        ) from None
    except ChecksumError as exc:
        raise FetchError(
            f"download of {entry.name} from {entry.url} has sha256 {exc.got}, but models/manifest.yaml expects "
            f"{entry.sha256}; the file was not kept"
        ) from None
    return target, digest
