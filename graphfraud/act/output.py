"""An output folder that is all-or-nothing: atomic files, a manifest written last, stale outputs removed.

Every file is written under a temporary name and renamed into place, so a
reader never sees half a file. ``manifest.json`` is removed when a run starts
writing and written last, listing the parameters, both periods, the input
fingerprint, the library version and every output with its row count and
sha256: a folder without a manifest, or with files the manifest does not list,
is visibly incomplete. Files an earlier run listed in its manifest and this run
did not write are removed; nothing the tool did not write is ever deleted.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from ..case.schema import TIME_FORMAT as _TS
from ..errors import GraphFraudError

def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()

__all__ = ["OutputFolder", "OutputError", "atomic_write_bytes", "check_writable", "MANIFEST"]

MANIFEST = "manifest.json"


class OutputError(GraphFraudError):
    """The output folder cannot be written (not a folder, read-only, disk full)."""


def _explain(exc: OSError, path: Path) -> OutputError:
    why = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
           errno.EACCES: "permission denied", errno.EPERM: "permission denied", errno.EROFS: "read-only file system",
           errno.ENOTDIR: "a part of the path is a file, not a folder",
           errno.EISDIR: "a folder stands where a file should go"}.get(exc.errno, exc.strerror or str(exc))
    fix = ("free some space or choose another --out folder" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
           else "choose another --out folder")
    return OutputError(f"cannot write {path}: {why}; {fix}")


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove a file can be written there, before any analysis runs.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> check_writable(f).is_dir()
    True
    >>> (f / "x").write_text("a") and check_writable(f / "x")
    Traceback (most recent call last):
    ...
    graphfraud.act.output.OutputError: output folder .../x is a file, not a folder; choose another --out
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"output folder {folder} is a file, not a folder; choose another --out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".graphfraud-probe-", delete=True) as fh:
            fh.write(b"0" * 4096)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise _explain(exc, folder) from None
    return folder


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        # mkstemp makes the file private (0600); an output is as readable as any file the user writes
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise _explain(exc, path) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, date_format=_TS, lineterminator="\n").encode("utf-8")


class OutputFolder:
    """Writes one run's outputs into ``root``; :meth:`finish` writes the manifest.

    Examples
    --------
    >>> import tempfile, json
    >>> out = OutputFolder(tempfile.mkdtemp())
    >>> _ = out.csv("a.csv", pd.DataFrame({"x": [1, 2]}))
    >>> manifest = out.finish({"seed": 0})
    >>> [(f["path"], f["rows"]) for f in manifest["files"]]
    [('a.csv', 2)]
    """

    def __init__(self, root: str | Path):
        self.root = check_writable(root)
        self.files: dict[str, dict] = {}
        self._previous = self._read_previous()
        # from now until finish() the folder has no manifest: visibly incomplete
        manifest = self.root / MANIFEST
        if manifest.exists():
            try:
                manifest.unlink()
            except OSError as exc:
                raise _explain(exc, manifest) from None

    def _read_previous(self) -> list[str]:
        try:
            data = json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
            return [f["path"] for f in data.get("files", []) if isinstance(f, dict) and isinstance(f.get("path"), str)]
        except (OSError, ValueError, AttributeError):
            return []

    def path(self, name: str) -> Path:
        return self.root / name

    def _record(self, name: str, data: bytes, rows: int | None) -> Path:
        path = atomic_write_bytes(self.root / name, data)
        self.files[Path(name).as_posix()] = {"path": Path(name).as_posix(), "rows": rows, "bytes": len(data),
                                             "sha256": hashlib.sha256(data).hexdigest()}
        return path

    def csv(self, name: str, df: pd.DataFrame) -> Path:
        """A CSV with exact values (timestamps as ``YYYY-MM-DD HH:MM:SS``), ``\\n`` line ends."""
        return self._record(name, _csv_bytes(df), len(df))

    def text(self, name: str, text: str, rows: int | None = None) -> Path:
        return self._record(name, text.encode("utf-8"), rows)

    def bytes(self, name: str, data: bytes, rows: int | None = None) -> Path:
        return self._record(name, data, rows)

    def adopt(self, path: str | Path, rows: int | None = None) -> Path:
        """Record a file another writer already put in place atomically (e.g. a case folder's page)."""
        path = Path(path)
        rel = path.relative_to(self.root).as_posix()
        data = path.read_bytes()
        if rows is None and path.suffix == ".csv":
            rows = max(0, data.count(b"\n") - 1)
        self.files[rel] = {"path": rel, "rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        return path

    def finish(self, info: dict) -> dict:
        """Remove what the previous run wrote and this one did not, then write ``manifest.json`` last."""
        for rel in self._previous:
            if rel in self.files or rel == MANIFEST:
                continue
            target = (self.root / rel).resolve()
            # only inside the folder, only files: never delete what the tool did not write
            if self.root.resolve() in target.parents and target.is_file():
                try:
                    target.unlink()
                except OSError as exc:
                    raise _explain(exc, target) from None
        # every folder above a removed file, deepest first (a day partition, then its table's folder)
        above = {parent for rel in self._previous for parent in (self.root / rel).parents
                 if self.root in parent.parents}
        for folder in sorted(above, key=lambda p: -len(p.parts)):
            if folder != self.root and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        manifest = {**info, "files": [self.files[k] for k in sorted(self.files)]}
        atomic_write_bytes(self.root / MANIFEST, (json.dumps(manifest, indent=2, default=str) + "\n").encode("utf-8"))
        return manifest
