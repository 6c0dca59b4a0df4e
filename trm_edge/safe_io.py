"""Safe writes, in one place: atomic files and directories that never delete what trm-edge did not write.

* `write_text(path, text)`: a temporary sibling + os.replace; a path that cannot be written (a
  directory, a read-only folder) is one OutputError and leaves no temporary file behind.
* `atomic_write_dir(target, write_fn, owned=...)`: write_fn fills a fresh temporary sibling folder
  that then replaces `target` in one rename. An existing target is only replaced if the caller
  recognises it as its own output (`owned(target)` returns the relative paths it wrote before), or
  with force=True; either way every other entry of the old folder (a user's notes, plots, evals/)
  is carried into the new one (hard link, else copy) before the swap, so nothing foreign is lost.
* `check_outputs(outputs, force)`: before the work, every output file must be writable, and an
  existing file the user did not name (derived: a bench result's .md / .png beside its --json, the
  default benchmarks/results/<device>-<date>.json, a report's files in --out DIR) is refused without
  --force, in one line naming it (the rule export / import / train follow for folders).
* `safe_name` / `inside`: names and relative paths read from files never leave their root.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .errors import TRMEdgeError

NAME_RE = re.compile(r"[A-Za-z0-9._-]+")


class OutputError(TRMEdgeError):
    """An output path that cannot be written, or one holding files trm-edge did not write."""


class PathEscapeError(TRMEdgeError):
    """A name or path read from a file that would leave its folder."""


def safe_name(name, what: str) -> str:
    """`name` if it is a plain file name ([A-Za-z0-9._-]+, not '.' or '..'), else PathEscapeError."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name in (".", ".."):
        raise PathEscapeError(f"{what}: {name!r} is not a plain name (allowed: letters, digits, '.', '_', '-')")
    return name


def inside(root: Path, rel, what: str) -> Path:
    """root/rel, resolved, checked to stay inside root (no absolute paths, '..' or symlinks out)."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel or Path(rel).is_absolute():
        raise PathEscapeError(f"{what}: {rel!r} is not a relative path inside {root}")
    base = Path(root).resolve()
    p = (base / rel).resolve()
    if p != base and base not in p.parents:
        raise PathEscapeError(f"{what}: {rel!r} leaves {root}")
    return p


def _writable_parent(path: Path) -> None:
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {parent}: {e.strerror or e}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: {parent} is not writable")


def check_writable(path) -> Path:
    """Fail before the work when an output file cannot be written (creates nothing; the write itself
    stays atomic and creates the missing folders)."""
    path = Path(os.path.abspath(path))
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"cannot write {path}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: {ancestor} is not writable")
    return path


def check_outputs(outputs, force: bool = False) -> list[Path]:
    """The one rule for the files a command writes, before the work: `outputs` is (path, named)
    pairs, named = the user gave that path. Every path must be writable (check_writable); an existing
    file the user did not name (a bench result's .md / .png, a report's files in --out DIR) is not
    overwritten unless force (--force): one OutputError line naming it. -> the paths."""
    out = []
    for path, named in outputs:
        p = check_writable(path)
        if not named and not force and (p.exists() or p.is_symlink()):
            raise OutputError(f"{path} exists and was not named on the command line: pass --force to overwrite it, "
                              "or choose another output")
        out.append(Path(path))
    return out


def write_bytes(path, data: bytes) -> Path:
    path = Path(path)
    _writable_parent(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path, text: str) -> Path:
    return write_bytes(path, text.encode())


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


def _carry_foreign(old: Path, new: Path, drop: set[str]) -> None:
    """Bring every entry of `old` that is not in `drop` (nor below a dropped folder) nor already
    written in `new` over into `new`."""
    def dropped(rel: str) -> bool:
        parts = rel.split("/")
        return any("/".join(parts[:i]) in drop for i in range(1, len(parts) + 1))

    for dirpath, dirnames, filenames in os.walk(old):
        reld = Path(dirpath).relative_to(old).as_posix()
        for name in list(dirnames) + filenames:
            rel = name if reld == "." else f"{reld}/{name}"
            src, dst = Path(dirpath) / name, new / rel
            if dropped(rel):
                if name in dirnames:
                    dirnames.remove(name)
                continue
            if src.is_symlink():
                if not dst.exists() and not dst.is_symlink():
                    os.symlink(os.readlink(src), dst)
                if name in dirnames:
                    dirnames.remove(name)
            elif name in dirnames:
                if dst.exists() and not dst.is_dir():
                    dirnames.remove(name)   # the new output has a file there: the old folder stays dropped
                else:
                    dst.mkdir(exist_ok=True)
            elif not dst.exists():
                _link_or_copy(str(src), str(dst))


Owned = Callable[[Path], "set[str] | None"]


def check_dir_target(target, owned: Owned | None = None, force: bool = False,
                     kind: str = "trm-edge output") -> set[str]:
    """Refuse an output folder trm-edge may not replace (call it before long work); -> the paths
    a previous write of this kind put there (owned(target); None = not this kind of output)."""
    target = Path(os.path.abspath(target))
    if not (target.exists() or target.is_symlink()):
        return set()
    if target.is_symlink() or not target.is_dir():
        raise OutputError(f"{target} exists and is not a folder")
    mine = owned(target) if owned else None
    if mine is None and any(target.iterdir()) and not force:
        raise OutputError(f"{target} is not empty and is not a {kind}: choose a new folder, or pass --force "
                          "(files trm-edge did not write are kept)")
    return mine or set()


def atomic_write_dir(target, write_fn: Callable[[Path], None], *, owned: Owned | None = None,
                     force: bool = False, kind: str = "trm-edge output") -> None:
    """Call write_fn(tmp_dir), then swap tmp_dir in as `target`, keeping every file trm-edge did not write.

    owned(target) -> the relative paths (files or folders) a previous write put there, or None when
    the folder is not this kind of output; a non-empty folder that is not refuses unless force."""
    target = Path(os.path.abspath(target))
    prev = check_dir_target(target, owned, force, kind)
    made = [d for d in target.parents if not d.exists()][::-1]   # folders this call creates (outermost first)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as e:
        _remove_empty(made)
        raise OutputError(f"cannot write {target}: {e.strerror or e}") from None
    try:
        write_fn(tmp)
        old = None
        if target.exists():
            _carry_foreign(target, tmp, prev)
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except OSError:
            if old is not None:
                os.replace(old, target)   # put the previous folder back
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(made)
        raise OutputError(f"cannot write {target}: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(made)
        raise


def _remove_empty(made: list[Path]) -> None:
    """A failed write leaves no empty folder behind that it created (innermost first)."""
    for d in reversed(made):
        try:
            d.rmdir()
        except OSError:
            return
