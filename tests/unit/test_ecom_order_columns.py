"""Orders by columns (records.OrderColumns) and their batching (staging.read_records):
the same orders, items and hashes as records, in file order, whatever the mix of
blocks the reader gives."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from greenloop.ecom.records import ITEM_RECORD, ORDER_RECORD, Block, OrderColumns, Record
from greenloop.ecom.staging import StageJob, content_hash, read_records


def _record(number: int, items: int) -> Record:
    order = tuple(f"{name}-{number}" for name in ORDER_RECORD)
    rows = [tuple(f"{name}-{number}-{i}" for name in ITEM_RECORD) for i in range(items)]
    return order, 10 * number, rows


# Each block: whether the reader gave it by columns, and its orders' item counts.
blocks = st.lists(
    st.tuples(st.booleans(), st.lists(st.integers(min_value=1, max_value=3), max_size=4)),
    max_size=6,
)


def _blocks(shape: list[tuple[bool, list[int]]]) -> tuple[list[Block], list[Record]]:
    given_blocks: list[Block] = []
    every: list[Record] = []
    for by_columns, counts in shape:
        records = [_record(len(every) + i, items) for i, items in enumerate(counts)]
        every += records
        if by_columns:
            digests = [content_hash(order, items) for order, _, items in records]
            given_blocks.append(OrderColumns.of_records(records, digests))
        else:
            # The row path leaves hashing to the stager (None).
            given_blocks.append((records, [None] * len(records)))
    return given_blocks, every


class _Reader:
    def __init__(self, given_blocks: list[Block]) -> None:
        self._blocks = given_blocks

    def blocks(self, *, in_memory: bool = False) -> Iterator[Block]:
        yield from self._blocks


@given(blocks, st.integers(min_value=1, max_value=5))
def test_batches_hold_every_order_once_in_file_order(
    shape: list[tuple[bool, list[int]]], size: int
) -> None:
    given_blocks, every = _blocks(shape)
    job = StageJob(path=Path("x.csv"), timezone="UTC", now="", batch_orders=size)
    reader: Any = _Reader(given_blocks)
    batches = list(read_records(reader, job))
    assert all(len(batch) == size for batch in batches[:-1])
    assert all(0 < len(batch) <= size for batch in batches)
    got: list[Record] = []
    hashes: list[str | None] = []
    for batch in batches:
        records, digests = batch.records()
        got += records
        hashes += digests
    assert got == every
    assert hashes == [content_hash(order, items) for order, _, items in every]


@given(st.lists(st.integers(min_value=1, max_value=3), max_size=8), st.data())
def test_parts_joined_again_are_the_whole(counts: list[int], data: st.DataObject) -> None:
    records = [_record(i, items) for i, items in enumerate(counts)]
    whole = OrderColumns.of_records(records, [f"h{i}" for i in range(len(records))])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(records)), max_size=3)))
    edges = [0, *cuts, len(records)]
    parts = [whole.part(a, b) for a, b in pairwise(edges)]
    assert [p.records() for p in parts] == [
        (records[a:b], [f"h{i}" for i in range(a, b)]) for a, b in pairwise(edges)
    ]
    assert OrderColumns.joined(parts) == whole
