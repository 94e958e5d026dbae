"""The Update ids of commands sent without an Idempotency-Key: unique per Update, and not
drawn from the generator whose outputs every answer shows as its request id."""

from __future__ import annotations

import os
import random
import re

from services.api import commands, observability


def test_an_update_id_is_sixteen_url_safe_characters_and_never_repeats():
    ids = {commands.unique_update_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", i) for i in ids)


def test_update_ids_do_not_follow_from_the_request_ids_callers_are_shown():
    # Whoever can replay the request ids' generator (its state follows from enough of its
    # outputs) learns nothing of the Update ids: they come from a generator of their own.
    state = random.getstate()
    try:
        random.seed(11)
        observability.new_request_id()
        first = commands.unique_update_id()
        random.seed(11)
        observability.new_request_id()
        second = commands.unique_update_id()
    finally:
        random.setstate(state)
    assert first != second


def test_a_forked_process_draws_other_update_ids_than_its_parent():
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        os.write(write, commands.unique_update_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    from_child = os.read(read, 64).decode()
    os.close(read)
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", from_child)
    assert from_child != commands.unique_update_id()
