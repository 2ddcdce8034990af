"""Which files, and where each output goes: the one output planner of both engines.

Rules, stated once:

- **Naming.** An output is named by replacing the input's extension with the suffix
  (``-q{K}.png`` beside the input by default, ``.png`` inside ``--out-dir``). With
  ``--out-dir`` the input's path below the folder or glob it was found in is mirrored
  below the out-dir; a ``--files-from`` entry that is a relative path inside the current
  folder keeps its whole path (as ``rsync --files-from``); any other file keeps only its
  name.
- **Containment.** No output is ever placed outside ``--out-dir``: a path that would
  climb out of it (``..``) is an error row.
- **Duplicates.** A file named twice (a folder and a glob, say) is done once, at its
  first place.
- **Conflicts.** Two inputs with one output: the first in input order wins, the later
  ones are error rows naming the first.
- **Own outputs.** An output never replaces its own input, even through a symbolic link,
  except through the explicit pngquant idiom ``--ext .png --force`` (in place; never
  ``-o``). Folder and glob expansion leave out
  quantcli's own outputs (:func:`is_own_output`) and everything
  below ``--out-dir``.

The local engine feeds this module's :class:`Planner` with files found on disk
(:func:`expand_inputs`); the Spark engine feeds it with files listed by Hadoop.
Paths are strings joined with ``/``, so local paths and URIs (``hdfs://...``) are
planned alike.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidOptionError

# Extensions picked up when a folder or glob is expanded (explicit files are always tried).
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm", ".tga", ".ico"}
)
GLOB_CHARS = frozenset("*?[")
_CODEC_NAMES = {"png": "PNG", "webp": "WebP"}


@dataclass(frozen=True)
class Found:
    """A file found in the inputs, before its output is decided.

    ``source`` is how to read it (a local path or a URI), ``display`` how results name it
    (the user's spelling), ``relative`` the posix path mirrored below ``--out-dir``.
    """

    source: str
    display: str
    relative: str
    error: str | None = None  # the input cannot be planned (a folder or glob with no image)


@dataclass(frozen=True)
class Job:
    """One input and where its output goes.

    ``output`` is how results name the output, ``target`` where it is written (the same
    for local paths; a URI on Spark), ``name`` its path below ``--out-dir`` (or its file
    name). ``error`` is set, and ``target`` None, when planning refused the input.
    """

    source: str
    display: str
    output: str | None
    target: str | None
    name: str
    error: str | None = None


def output_suffix(ext: str | None, k_text: str, out_dir: bool, format: str = "png") -> str:
    """The output suffix: ``--ext`` (``{K}`` replaced), else ``.png`` inside an out-dir,
    else ``-q{K}.png`` beside the input (``.webp`` for ``format="webp"``). Raises
    InvalidOptionError unless it ends in the format's extension."""
    extension = f".{format}"
    suffix = ext if ext is not None else (extension if out_dir else "-q{K}" + extension)
    suffix = suffix.replace("{K}", k_text).replace("{k}", k_text)
    if "/" in suffix:
        raise InvalidOptionError(f"--ext is a suffix for the file name, not a path, got {suffix!r} (use --out-dir)")
    if not suffix.lower().endswith(extension):
        raise InvalidOptionError(
            f"--ext must end in {extension} (quantcli writes {_CODEC_NAMES.get(format, format)} files "
            f"with --format {format}), got {suffix!r}"
        )
    return suffix


def suffix_format(ext: str | None) -> str:
    """The codec a given output suffix names (inspect --ext): "webp" for ``.webp``, else "png"."""
    return "webp" if ext is not None and ext.lower().endswith(".webp") else "png"


def in_place_suffix(ext: str | None, format: str = "png") -> bool:
    """Whether ``--ext`` is the bare extension of the format (``.png``, ``.webp``): with
    ``--force`` and no out-dir, the pngquant idiom of replacing such inputs in place."""
    return ext is not None and ext.lower() == f".{format}"


@dataclass(frozen=True)
class Naming:
    """How outputs are named: the suffix, and ``out_dir`` (its display spelling and where
    it is written) or ``output`` (a single file) or neither (beside each input)."""

    suffix: str
    out_dir: str | None = None
    out_target: str | None = None
    output: str | None = None
    in_place: bool = False  # --ext .png --force (.webp for WebP): an output may replace its input

    def place(self, found: Found, target_of_source: str) -> tuple[str, str, str] | str:
        """(output as named, where it is written, name below the out-dir), or an error."""
        if self.output is not None:
            placed = self.output, self.output, posixpath.basename(self.output)
        elif self.out_dir is not None:
            relative = posixpath.normpath(found.relative)
            if relative.startswith("../") or relative == ".." or relative.startswith("/"):
                return f"{found.display}: its output would be outside --out-dir {self.out_dir}"
            name = _with_suffix(relative, self.suffix)
            placed = _join(self.out_dir, name), _join(self.out_target or self.out_dir, name), name
        else:
            leaf = _with_suffix(posixpath.basename(found.relative), self.suffix)
            placed = _join(_parent(found.display), leaf), _join(_parent(target_of_source), leaf), leaf
        # -o never replaces its input: in place is only --ext .png --force (.webp for WebP).
        if (self.output is not None or not self.in_place) and _same_file(placed[1], target_of_source):
            ext = posixpath.splitext(self.suffix)[1] or ".png"
            return f"{found.display}: the output would replace the input (in-place needs --ext {ext} --force)"
        return placed


def _with_suffix(relative: str, suffix: str) -> str:
    head, leaf = posixpath.split(relative)
    stem = leaf.rsplit(".", 1)[0] if "." in leaf.lstrip(".") else leaf
    return posixpath.join(head, stem + suffix) if head else stem + suffix


def _join(base: str, relative: str) -> str:
    if not base or base == ".":
        return relative
    return base.rstrip("/") + "/" + relative


def _parent(path: str) -> str:
    head = path.rsplit("/", 1)[0] if "/" in path.rstrip("/") else ""
    if "://" in path and head.endswith(":/"):
        return path  # a bare authority
    return head or "."


def _key(path: str) -> str:
    """A comparable form of a local path or URI: absolute and normalised."""
    if "://" in path or path.startswith("file:"):
        return path
    return os.path.normpath(os.path.abspath(path))


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file: equal keys, or local paths that resolve to one
    file through symbolic links (an output written there would replace the input)."""
    if _key(a) == _key(b):
        return True
    if "://" in a or "://" in b or a.startswith("file:") or b.startswith("file:"):
        return False
    return os.path.realpath(a) == os.path.realpath(b)


class Planner:
    """Decides each input's output, in input order, with the module's rules.

    Feed it :class:`Found` files with :meth:`plan`; it remembers the sources and outputs
    seen so far (the memory of a plan is one entry per file).
    """

    def __init__(self, naming: Naming) -> None:
        self.naming = naming
        self._sources: set[str] = set()
        self._outputs: dict[str, str] = {}

    def plan(self, found: Found, target_of_source: str | None = None) -> Job | None:
        """The job for ``found``; None when that source was already planned."""
        source_key = _key(found.source)
        if source_key in self._sources:
            return None
        self._sources.add(source_key)
        if found.error is not None:
            return Job(found.source, found.display, None, None, posixpath.basename(found.relative), found.error)
        placed = self.naming.place(found, target_of_source or found.source)
        if isinstance(placed, str):
            return Job(found.source, found.display, None, None, posixpath.basename(found.relative), placed)
        output, target, name = placed
        first = self._outputs.setdefault(_key(target), found.display)
        if first != found.display:
            message = f"{found.display}: output {output} is also the output of {first}"
            return Job(found.source, found.display, None, None, name, message)
        return Job(found.source, found.display, output, target, name)

    def plan_all(self, files: Iterable[Found]) -> Iterator[Job]:
        """:meth:`plan` over ``files``, leaving out repeated sources."""
        for found in files:
            job = self.plan(found)
            if job is not None:
                yield job


# ---------------------------------------------------------------------------------------
# Finding files on the local disk.


def expand_inputs(
    inputs: Iterable[str],
    *,
    recursive: bool,
    skip_suffix: str | None = None,
    out_dir: str | None = None,
    literal: bool = False,
    is_own_output=None,
) -> Iterator[Found]:
    """Files named by ``inputs`` (files, folders, globs), in a stable order.

    Folders and globs yield only files with an image extension, sorted by path; with
    ``recursive``, folders are walked into subfolders. Neither a folder walk nor a ``**``
    glob follows symbolic links to folders (a link to a file is a file), so a link loop
    cannot make it run forever. Files ending in ``skip_suffix``, files for which
    ``is_own_output(path)`` holds, and everything below ``out_dir`` are left out of
    folders and globs. ``literal`` inputs (``--files-from`` entries) are never globs,
    and a relative path inside the current folder keeps its whole path as the relative
    path. A path that does not exist is yielded as is, so that it fails with its name
    like any unreadable file; a folder or glob with no image is yielded with an error.
    """
    out_abs = None if out_dir is None else os.path.normpath(os.path.abspath(out_dir))

    def keep(path: str, root: str) -> bool:
        if os.path.splitext(path)[1].lower() not in IMAGE_EXTENSIONS:
            return False
        if skip_suffix and skip_suffix.lower() not in IMAGE_EXTENSIONS and path.endswith(skip_suffix):
            return False
        if out_abs is not None and _is_below(out_abs, root) and _is_below(path, out_abs):
            return False  # an earlier run's out-dir inside the tree being compressed
        return is_own_output is None or not is_own_output(path)

    for item in inputs:
        if not literal and any(ch in item for ch in GLOB_CHARS) and not os.path.lexists(item):
            base = _glob_base(item)
            matches = [Found(m, m, _relative(m, base)) for m in _glob(item, base) if keep(m, base)]
        elif os.path.isdir(item):
            # A listed folder keeps its path below the out-dir, as a listed file does.
            prefix = posixpath.normpath(item) + "/" if literal and _keeps_path(item) else ""
            matches = [Found(p, p, prefix + _relative(p, item)) for p in _walk(item, recursive) if keep(p, item)]
        elif literal and _keeps_path(item):
            matches = [Found(item, str(Path(item)), posixpath.normpath(item))]
        else:
            matches = [Found(item, str(Path(item)), posixpath.basename(item))]
        if not matches:
            kind = "folder" if os.path.isdir(item) else "pattern"
            matches = [Found(item, item, posixpath.basename(item), f"{item}: no image found in this {kind}")]
        yield from matches


def _keeps_path(item: str) -> bool:
    """Whether a ``--files-from`` entry keeps its path below the out-dir: a relative path
    that does not climb (as ``rsync --files-from``)."""
    return not os.path.isabs(item) and ".." not in item.split("/")


def _is_below(path: str, folder: str) -> bool:
    """Whether ``path`` lies strictly inside ``folder``."""
    absolute = os.path.normpath(os.path.abspath(path))
    return absolute.startswith(os.path.normpath(os.path.abspath(folder)).rstrip("/") + "/")


def _walk(folder: str, recursive: bool) -> list[str]:
    """Files below ``folder`` (only its own files unless ``recursive``), sorted; folder
    links are not followed."""
    found: list[str] = []
    if not recursive:
        with os.scandir(folder) as entries:
            found = [e.path for e in entries if e.is_file()]
        return sorted(found)
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        found.extend(os.path.join(root, f) for f in files if os.path.isfile(os.path.join(root, f)))
    return sorted(found, key=lambda p: p.split(os.sep))


def _glob_base(pattern: str) -> str:
    fixed: list[str] = []
    for part in pattern.split("/"):
        if any(ch in part for ch in GLOB_CHARS):
            break
        fixed.append(part)
    base = "/".join(fixed)
    if pattern.startswith("/") and not base:
        return "/"
    return base or "."


def _glob(pattern: str, base: str) -> list[str]:
    """Files matching ``pattern`` below its fixed ``base``, sorted; ``**`` matches any
    number of folders; folder links are not followed (as :func:`_walk`)."""
    if not os.path.isdir(base):
        return []
    rest = pattern[len(base) :].lstrip("/") if base != "." or pattern.startswith(".") else pattern
    if base == "." and pattern.startswith("./"):
        rest = pattern[2:]
    regex = _glob_regex(rest)
    matches = []
    for root, dirs, files in os.walk(base, followlinks=False):
        dirs.sort()
        rel_root = os.path.relpath(root, base)
        for name in files:
            rel = name if rel_root == "." else f"{rel_root}/{name}"
            if regex.fullmatch(rel):
                path = os.path.join(root, name) if base != "." or pattern.startswith("./") else rel
                if os.path.isfile(path):
                    matches.append(path)
    return sorted(matches, key=lambda p: p.split("/"))


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a relative glob: ``**`` as a whole segment spans folders, other
    wildcards stay within one segment, and hidden names need an explicit dot (as a
    shell's globs)."""
    parts = []
    segments = [s for s in pattern.split("/") if s not in ("", ".")]
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "..":
            return re.compile(r"(?!)")  # a glob cannot climb out of its base
        if segment == "**":
            parts.append(r"(?:[^/.][^/]*/)*" + (r"[^/.][^/]*" if last else ""))
            continue
        hidden = "" if segment.startswith(".") else r"(?!\.)"
        parts.append(hidden + _segment_regex(segment) + ("" if last else "/"))
    return re.compile("".join(parts), re.DOTALL)


def _segment_regex(segment: str) -> str:
    """One path segment's glob as a regex: ``*``, ``?`` and ``[...]`` never match ``/``."""
    out, i = [], 0
    while i < len(segment):
        ch = segment[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif (ch == "[" and "]" in segment[i + 2 :]) or (ch == "[" and segment[i + 1 : i + 2] == "]"):
            end = segment.index("]", i + 2)
            body = segment[i + 1 : end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            out.append("[" + ("^/" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _relative(path: str, base: str) -> str:
    """``path`` below ``base`` as a posix path, or its bare name when it is not below."""
    rel = os.path.relpath(os.path.normpath(path), os.path.normpath(base)) if base != "/" else path.lstrip("/")
    if rel.startswith(".."):
        return posixpath.basename(path)
    return rel.replace(os.sep, "/")


# Every PNG quantcli writes has an empty "quNT" chunk right after IHDR: signature (8),
# IHDR (4 + 4 + 13 + 4), then the marker's length (4, zero) and type. Every WebP has an
# empty "quNT" chunk right after its VP8X header (quantcli.webp).
_MARKER_AT = 8 + 25
_MARKER = b"\x00\x00\x00\x00quNT"
OWN_OUTPUT_HEAD = _MARKER_AT + len(_MARKER)  # bytes of a file's start that tell


def is_own_output(path: str) -> bool:
    """Whether the file at ``path`` is a PNG or WebP that quantcli wrote (it reads 45 bytes)."""
    if not path.lower().endswith((".png", ".webp")):
        return False
    try:
        with open(path, "rb") as f:
            return is_own_output_bytes(f.read(OWN_OUTPUT_HEAD))
    except OSError:
        return False


def is_own_output_bytes(head: bytes) -> bool:
    """Whether a file starting with ``head`` (45 bytes or more) is a PNG or WebP quantcli wrote."""
    if head[12:16] == b"IHDR":
        return head[_MARKER_AT : _MARKER_AT + len(_MARKER)] == _MARKER
    from .webp import is_own_webp

    return is_own_webp(head)


def read_file_list(data: bytes, *, null: bool) -> list[str]:
    """Paths from ``--files-from``: newline-separated, or NUL-separated with ``null``."""
    sep = b"\0" if null else b"\n"
    names = [entry.rstrip(b"\r") if not null else entry for entry in data.split(sep)]
    return [os.fsdecode(name) for name in names if name]
