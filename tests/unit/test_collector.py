"""The garbage-collector policies of the batch jobs nest and always restore."""

from __future__ import annotations

import gc
import threading

import pytest

from greenloop.process.collector import collector_paused, rare_collections


def test_paused_nests_and_restores_even_after_an_error() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with pytest.raises(RuntimeError), collector_paused():
            raise RuntimeError("boom")
        assert not gc.isenabled()  # the outer job still runs
    assert gc.isenabled()


def test_paused_across_threads_ends_with_the_last_job() -> None:
    first_in, second_in, release = threading.Event(), threading.Event(), threading.Event()

    def job(entered: threading.Event) -> None:
        with collector_paused():
            entered.set()
            release.wait(5)

    one = threading.Thread(target=job, args=(first_in,))
    one.start()
    first_in.wait(5)
    with collector_paused():
        second_in.set()
        release.set()
        one.join(5)
        assert not gc.isenabled()  # the first job ended, this one has not
    assert gc.isenabled()


def test_rare_collections_restore_the_thresholds() -> None:
    before = gc.get_threshold()
    with rare_collections():
        assert gc.get_threshold()[0] == 50_000
        with rare_collections():
            pass
        assert gc.get_threshold()[0] == 50_000
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
