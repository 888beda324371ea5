"""A file data-key store reads each household's key once and keeps it while the file is the
same one: what another process does to the file (a shred, a renewal, a change of mode) is
seen at the next wrap or unwrap, as when every use read the file. Keys for households seen
for the first time may be made ahead."""

import threading
from pathlib import Path

import pytest

from broker.adapters.data_keys import FileDataKeys
from broker.errors import DataKeyShredded, DataKeyUnusable

CONTEXT = b"sgb/test/v1"
A = "a" * 32


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "households"


class TestAnotherProcessChangesTheKey:
    def test_a_key_shredded_elsewhere_is_never_used_again(self, folder: Path) -> None:
        """The router read the key; the retention job (another store on the same folder)
        shreds it: the router's next wrap makes a new key, and what the old one sealed
        answers shredded to the router too."""
        router, retention = FileDataKeys(folder), FileDataKeys(folder)
        old = router.wrap(A, b"old", CONTEXT)
        assert retention.shred(A)
        new = router.wrap(A, b"new", CONTEXT)
        with pytest.raises(DataKeyShredded):
            router.unwrap(A, old, CONTEXT)
        assert router.unwrap(A, new, CONTEXT) == b"new"
        assert retention.unwrap(A, new, CONTEXT) == b"new"

    def test_a_key_shredded_and_renewed_elsewhere_is_read_afresh(self, folder: Path) -> None:
        """Shredded and made again by others between two uses: the router seals under the
        new key, which the others can open."""
        router, other = FileDataKeys(folder), FileDataKeys(folder)
        router.wrap(A, b"first", CONTEXT)
        other.shred(A)
        other.wrap(A, b"renewed", CONTEXT)
        sealed = router.wrap(A, b"second", CONTEXT)
        assert other.unwrap(A, sealed, CONTEXT) == b"second"

    def test_a_key_file_opened_to_others_is_refused_though_read_before(self, folder: Path) -> None:
        """A key file made readable by others after it was read is refused, as a key file
        read for the first time would be."""
        router = FileDataKeys(folder)
        router.wrap(A, b"data", CONTEXT)
        (folder / f"{A}.key").chmod(0o644)
        with pytest.raises(DataKeyUnusable):
            router.wrap(A, b"more", CONTEXT)


class TestSpareKeys:
    def test_a_new_household_takes_a_key_made_ahead(self, folder: Path) -> None:
        """With keys made ahead, a household seen for the first time takes one of them (no
        spare file is left under its name), and what it seals opens, for another store on
        the same folder too."""
        router = FileDataKeys(folder, spares=4)
        router.make_spares()
        spares = set(folder.glob(".spare.*"))
        assert len(spares) == 4
        sealed = router.wrap(A, b"data", CONTEXT)
        assert len(set(folder.glob(".spare.*"))) == 3
        assert (folder / f"{A}.key").exists()
        assert FileDataKeys(folder).unwrap(A, sealed, CONTEXT) == b"data"

    def test_a_spare_is_private_from_the_first_byte(self, folder: Path) -> None:
        """Keys made ahead are owner-only files, like every key file."""
        router = FileDataKeys(folder, spares=2)
        router.make_spares()
        assert all(p.stat().st_mode & 0o077 == 0 for p in folder.glob(".spare.*"))

    def test_without_spares_none_are_made(self, folder: Path) -> None:
        """The default store makes each key in place, and no spare file."""
        FileDataKeys(folder).wrap(A, b"data", CONTEXT)
        assert not list(folder.glob(".spare.*"))

    def test_a_key_another_process_linked_first_is_the_one_used(
        self, folder: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two processes make a new household's key at once: the one that links second uses
        the first's key (read from its file), not the spare it had taken, and both open what
        either sealed."""
        router, other = FileDataKeys(folder, spares=2), FileDataKeys(folder)
        router.make_spares()
        take_spare = router._spare

        def racing() -> tuple[Path, bytes] | None:
            other.wrap(A, b"first", CONTEXT)  # the other process links its key meanwhile
            return take_spare()

        monkeypatch.setattr(router, "_spare", racing)
        sealed = router.wrap(A, b"second", CONTEXT)
        assert other.unwrap(A, sealed, CONTEXT) == b"second"
        assert router.unwrap(A, other.wrap(A, b"third", CONTEXT), CONTEXT) == b"third"

    def test_a_key_made_from_a_spare_is_the_one_on_disk(self, folder: Path) -> None:
        """The key kept in memory when a spare is linked is the file's: a store reading
        the file afresh opens what it sealed, and its shred is seen at the next wrap."""
        router = FileDataKeys(folder, spares=2)
        router.make_spares()
        sealed = router.wrap(A, b"data", CONTEXT)
        assert FileDataKeys(folder).unwrap(A, sealed, CONTEXT) == b"data"
        FileDataKeys(folder).shred(A)
        with pytest.raises(DataKeyShredded):
            router.unwrap(A, sealed, CONTEXT)


class TestClosing:
    def test_nothing_is_written_into_the_folder_after_close(self, folder: Path) -> None:
        """A new household sets the spare-key thread making many files; ``close`` waits for
        it and deletes the spares nobody used, so the folder's owner may remove it at once
        (the runtime's temporary folders are removed just after it closes)."""
        router, before = FileDataKeys(folder, spares=400), _spare_makers()
        router.wrap(A, b"data", CONTEXT)  # no spare ready: made in place, the thread starts
        started = _spare_makers() - before
        assert started
        router.close()
        assert not any(thread.is_alive() for thread in started)
        assert sorted(p.name for p in folder.iterdir()) == [f"{A}.key"]

    def test_keys_are_made_in_place_after_close(self, folder: Path) -> None:
        """Closed, the store still makes a new household's key, and starts no thread."""
        router = FileDataKeys(folder, spares=4)
        router.make_spares()
        router.close()
        before = _spare_makers()
        sealed = router.wrap(A, b"data", CONTEXT)
        assert not _spare_makers() - before
        assert not list(folder.glob(".spare.*"))
        assert FileDataKeys(folder).unwrap(A, sealed, CONTEXT) == b"data"


def _spare_makers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "data-key-spares" and t.is_alive()}
