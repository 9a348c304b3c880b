"""Reads the records of an offline wandb run file (``run-<id>.wandb``), so tests can check what
each run logged without the network. The file is a LevelDB-style log (as wandb's own datastore
writes it): a 7-byte header (``:W&B``, magic 0xBEE1, version 0), then 32 KiB blocks of chunks,
each chunk a 7-byte header (CRC-32C, little-endian length, type: 1 full, 2 first, 3 middle,
4 last) and its bytes; a record's chunks concatenate to one ``wandb_internal_pb2.Record``."""
from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: str | Path):
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a wandb run file")
    offset, pending = HEADER, b""
    while offset + HEADER <= len(data):
        left_in_block = BLOCK - offset % BLOCK
        if left_in_block < HEADER:  # the block's tail is padding
            offset += left_in_block
            continue
        _, length, kind = struct.unpack("<IHB", data[offset:offset + HEADER])
        chunk = data[offset + HEADER:offset + HEADER + length]
        offset += HEADER + length
        if kind == 0 and length == 0:
            continue
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record
            pending = b""


def history(path: str | Path) -> list[dict]:
    """The rows passed to ``wandb.log`` (``_step`` included), in order."""
    rows = []
    for record in records(path):
        if record.WhichOneof("record_type") == "history":
            row = {}
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                row[key] = json.loads(item.value_json)
            rows.append(row)
    return rows


def run_id(path: str | Path) -> str:
    for record in records(path):
        if record.WhichOneof("record_type") == "run":
            return record.run.run_id
    raise ValueError(f"{path}: no run record")
