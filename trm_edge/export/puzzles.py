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

import json
import re
from pathlib import Path

import numpy as np

from ..errors import TRMEdgeError

MAX_IDS = 1 << 24


def puzzle_ids_from(spec: str) -> list[int]:
    """SPEC (see the module doc) -> sorted distinct puzzle ids."""
    p = Path(spec)
    if re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*", spec):
        ids = [int(v) for v in spec.split(",")]
    elif p.is_dir():
        from ..tasks.generic import read_built, split_dir

        ids = read_built(split_dir(p, "test"))["puzzle_ids"].tolist()
    elif p.suffix == ".npy" and p.is_file():
        try:
            a = np.load(p, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise TRMEdgeError(f"--puzzles: cannot read {p}: {str(e).splitlines()[0]}") from None
        if not np.issubdtype(a.dtype, np.integer):
            raise TRMEdgeError(f"--puzzles: {p} holds {a.dtype}, not integer puzzle ids")
        ids = a.reshape(-1).tolist()
    elif p.suffix == ".json" and p.is_file():
        try:
            ids = json.loads(p.read_text())
        except (OSError, ValueError) as e:
            raise TRMEdgeError(f"--puzzles: cannot read {p}: {e}") from None
        if not (isinstance(ids, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in ids)):
            raise TRMEdgeError(f"--puzzles: {p} must be a JSON list of integer puzzle ids")
    else:
        raise TRMEdgeError(f"--puzzles: {spec!r} is neither ids (3,17,42) nor a .json / .npy file nor a "
                           "built data set directory")
    ids = sorted(set(ids))
    if not ids or ids[0] < 0 or len(ids) > MAX_IDS:
        raise TRMEdgeError(f"--puzzles: need 1..{MAX_IDS} puzzle ids >= 0, got {len(ids)} (min {ids[:1]})")
    return ids
