"""Which rows of a puzzle-embedding table an artifact keeps (`trm-edge export --puzzles SPEC`).

ARC checkpoints carry one embedding row per augmented puzzle: 10^5-10^6 rows x D floats, hundreds of
megabytes to gigabytes, in every graph that embeds the question. An artifact for a phone keeps only
the rows of the puzzles it will be asked about (`trm_edge.model.keep_puzzle_rows`); its manifest
records them as model.puzzle_rows (row i of the artifact's table = the checkpoint's puzzle id
puzzle_rows[i]), and its `puzzle_ids` input takes row numbers 0..len(rows)-1
(`trm-edge eval --data` maps a data set's ids to rows by that list).

SPEC is one of
    3,17,42                  puzzle ids
    FILE.json / FILE.npy     a JSON list of ids, or an integer array, e.g. an authors' built split's
                             `all__puzzle_identifiers.npy` (the ids of its puzzles)
    DIR                      an authors' built data set (or split) directory: the ids its test split uses
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import TRMEdgeError

MAX_IDS = 1 << 24


def puzzle_ids_from(spec: str) -> list[int]:
    """SPEC (see the module doc) -> sorted distinct puzzle ids. An id listed twice on the command
    line is refused (a typo, not a request); files may repeat ids (a split lists one per example)."""
    from ..schema import SchemaError, read_json, read_npy

    if not spec.strip():
        raise TRMEdgeError("--puzzles: empty SPEC (give ids 3,17,42, a .json / .npy file or a data set directory)")
    p = Path(spec)
    if re.fullmatch(r"\s*[0-9]+(\s*,\s*[0-9]+)*\s*", spec, re.ASCII):
        ids = [int(v) for v in spec.split(",")]
        twice = sorted({v for v in ids if ids.count(v) > 1})
        if twice:
            raise TRMEdgeError(f"--puzzles: id(s) {', '.join(map(str, twice[:8]))} listed more than once")
    elif p.is_dir():
        from ..tasks.generic import read_built, split_dir

        ids = read_built(split_dir(p, "test"))["puzzle_ids"].tolist()
    elif p.suffix == ".npy" and p.exists():
        try:
            ids = read_npy(p, "--puzzles ids", ndims=(1,), max_rows=MAX_IDS).tolist()
        except SchemaError as e:
            raise TRMEdgeError(f"--puzzles: {e}") from None
    elif p.suffix == ".json" and p.exists():
        try:
            ids = read_json(p, "--puzzles ids (a JSON list)")
        except SchemaError as e:
            raise TRMEdgeError(f"--puzzles: {e}") from None
        if not (isinstance(ids, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in ids)):
            raise TRMEdgeError(f"--puzzles: {p} must be a JSON list of integer puzzle ids")
    else:
        raise TRMEdgeError(f"--puzzles: {spec!r} is neither ids (3,17,42) nor a .json / .npy file nor a "
                           "built data set directory")
    ids = sorted(set(ids))
    if not ids or ids[0] < 0 or ids[-1] >= 2**31 or len(ids) > MAX_IDS:
        raise TRMEdgeError(f"--puzzles: need 1..{MAX_IDS} puzzle ids in 0..2^31-1, got {len(ids)} "
                           f"(min {ids[:1]}, max {ids[-1:]})")
    return ids
