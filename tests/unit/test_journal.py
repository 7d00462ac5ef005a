"""The change journal's reading rules, where followers and the checkpoint collector meet."""

from __future__ import annotations

import io
import json
import time

import pytest

from pryv_server.core import Catalog
from pryv_server.core.journal import Journal
from pryv_server.core.journal import JournalGap
from pryv_server.core.layout import JOURNAL_PREFIX
from pryv_server.core.layout import checkpoint_key
from pryv_server.core.layout import journal_key
from pryv_server.core.layout import record_key
from pryv_server.errors import ObjectNotFound
from pryv_server.storage import MemoryStorage
from tests.concurrency import all_at_once
from tests.records import package


class CollectedWhileRead(MemoryStorage):
    """A store whose journal entries up to ``collected`` vanish once they have been listed.

    As the checkpoint collector (``Journal.forget_through``) does while a follower that fell
    behind reads: it listed them, and they are gone when it reads them.
    """

    collected = 0

    def read(self, key: str) -> bytes:
        number = key.removeprefix(JOURNAL_PREFIX).partition(".")[0]
        if key.startswith(JOURNAL_PREFIX) and number.isdigit() and int(number) <= self.collected:
            self.delete(key)
        return super().read(key)


def test_an_entry_removed_while_being_read_is_a_gap_even_the_first() -> None:
    """Skipping it would move the follower past a change it never applied: lost for good."""
    store = CollectedWhileRead()
    journal = Journal(store)
    for n in range(1, 4):
        journal.append([f"k{n}"], after=n - 1)
    store.collected = 1  # the first entry after the follower's position goes
    with pytest.raises(JournalGap):
        journal.read_after(0)


def test_a_follower_that_loses_the_race_with_the_collector_still_applies_every_upload() -> None:
    store = CollectedWhileRead()
    writer = Catalog(store, checkpoint_every=4)
    follower = Catalog(store, checkpoint_every=1_000_000)
    keys = []
    for n in range(14):
        new = package(f"1.{n}")
        key = record_key(new.project, new.identity)
        store.write(key, io.BytesIO(json.dumps(new.to_json()).encode()))
        writer.published(key, new)
        writer.snapshot()  # takes checkpoints and collects the entries they cover
        keys.append(key)
        if n < 11:
            follower.snapshot()  # then it falls three uploads behind
    following = min(
        int(info.key.removeprefix(JOURNAL_PREFIX).partition(".")[0])
        for info in store.list_objects(JOURNAL_PREFIX)
    )
    position = follower._applied  # the last entry it applied
    assert following <= position + 1, "the collector already removed its next entry: no race"
    store.collected = position + 1  # its next entry goes as it reads it, the later ones stay
    assert set(keys) <= set(follower.snapshot().packages)


class SlowJournalWrites(MemoryStorage):
    """A store whose writes take a while (an fsync's worth), counting every journal write."""

    journal_writes = 0

    def write(self, key, data, *, overwrite=False, durable=True):  # type: ignore[no-untyped-def]
        if key.startswith(JOURNAL_PREFIX):
            SlowJournalWrites.journal_writes += 1
            time.sleep(0.005)
        return super().write(key, data, overwrite=overwrite, durable=durable)


def test_threads_of_one_process_append_without_racing_for_a_number() -> None:
    """Eight uploads at once each write their entry once: every loser of a race for a number
    writes (and fsyncs) it again, which under eight uploads was most of the journal's writes."""
    store = SlowJournalWrites()
    journal = Journal(store)
    numbers = all_at_once(8, lambda n: journal.append([f"k{n}"], after=0))
    assert sorted(numbers) == list(range(1, 9))
    assert SlowJournalWrites.journal_writes == 8


class Listings(MemoryStorage):
    """A store that counts its listings of the journal."""

    def __init__(self) -> None:
        super().__init__()
        self.journal_listings = 0

    def list_objects(self, prefix: str = "", *, start_after: str = ""):  # type: ignore[no-untyped-def]
        if prefix == JOURNAL_PREFIX:
            self.journal_listings += 1
        return super().list_objects(prefix, start_after=start_after)


def test_a_probing_journal_appends_and_follows_without_listing_the_entries() -> None:
    """On a local disk a listing reads every kept entry: a thousand under a stream of uploads."""
    store = Listings()
    writer, follower = Journal(store, probe=True), Journal(store, probe=True)
    for n in range(1, 4):
        assert writer.append([f"k{n}"], after=0) == n
    assert [entry.keys for entry in follower.read_after(1)] == [("k2",), ("k3",)]
    assert store.journal_listings == 0


def test_a_probing_journal_still_finds_a_gap_and_never_reuses_a_removed_number() -> None:
    store = Listings()
    journal = Journal(store, probe=True, keep_for=0)
    for n in range(1, 6):
        journal.append([f"k{n}"], after=n - 1)
    store.write(checkpoint_key(3), io.BytesIO(b"{}"))  # a checkpoint covers 1..3
    assert journal.forget_through(3) == 3
    with pytest.raises(JournalGap):
        Journal(store, probe=True).read_after(0)  # 1 is missing, 4 and 5 are not: a gap
    stale = Journal(store, probe=True)  # a writer that knows only entry 1
    assert stale.append(["late"], after=1) == 6  # not 2, which followers have passed


class ListingMisses(MemoryStorage):
    """A store whose journal listing misses some entries, as a folder listed while entries are
    created in it can (a local folder is read in hash order, not in the order files came).

    ``late``: entries a first read does not find yet (created just after a probe looked).
    """

    def __init__(self) -> None:
        super().__init__()
        self.missed: frozenset[str] = frozenset()
        self.late: set[str] = set()

    def list_objects(self, prefix: str = "", *, start_after: str = ""):  # type: ignore[no-untyped-def]
        listed = super().list_objects(prefix, start_after=start_after)
        return (info for info in listed if info.key not in self.missed)

    def read(self, key: str) -> bytes:
        if key in self.late:
            self.late.discard(key)
            raise ObjectNotFound(key)
        return super().read(key)


@pytest.mark.parametrize("probe", [False, True])
@pytest.mark.parametrize("missed", [(1,), (2,), (1, 3)])
def test_an_entry_a_listing_misses_is_read_not_skipped_nor_taken_for_removed(
    missed: tuple[int, ...], probe: bool
) -> None:
    """Missing the first listed entry made the follower reload the whole catalog (a 4 s stall
    at 60,000 files); missing one between two listed ones skipped its change for good."""
    store = ListingMisses()
    writer = Journal(store)
    for n in range(1, 5):
        writer.append([f"k{n}"], after=n - 1)
    store.missed = frozenset(journal_key(n) for n in missed)
    store.late = {journal_key(1)} if probe else set()  # a probing follower then lists
    entries = Journal(store, probe=probe).read_after(0)
    assert [entry.keys for entry in entries] == [("k1",), ("k2",), ("k3",), ("k4",)]
