"""gsoc_helpers.file_lock: one holder at a time; the lock is released when the block ends, an error included. (Four
processes unpacking CIFAR-10 into one cache under it: test_cifar10_concurrent.py.)"""

from __future__ import annotations

import sys
import threading

import pytest

from gsoc_helpers.file_lock import exclusive_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no flock: the block runs unlocked there")


def test_a_second_holder_waits_until_the_first_leaves(tmp_path):
    lock = tmp_path / "sub" / "x.lock"  # the folder is created
    order: list[str] = []
    first_in, second_in = threading.Event(), threading.Event()

    def second() -> None:
        first_in.wait()
        with exclusive_lock(lock):  # flock: each open file contends, threads of one process too
            order.append("second in")
            second_in.set()

    t = threading.Thread(target=second)
    t.start()
    with exclusive_lock(lock):
        first_in.set()
        assert not second_in.wait(0.3)  # blocked while the first holds the lock
        order.append("first out")
    assert second_in.wait(30)
    t.join()
    assert order == ["first out", "second in"] and lock.is_file()


def test_an_error_inside_releases_the_lock(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with exclusive_lock(tmp_path / "x.lock"):
            raise RuntimeError("boom")
    done = threading.Event()

    def take() -> None:
        with exclusive_lock(tmp_path / "x.lock"):
            done.set()

    threading.Thread(target=take).start()
    assert done.wait(30)
