"""What start-up builds is kept out of Python's full collections (services/heap.py), so a
collection in a serving process walks only what requests made since."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
import services.api.app  # what `pakta api` imports before it serves
from services.heap import settle_heap_for_serving

alive = len(gc.get_objects())
settle_heap_for_serving()
walked = len(gc.get_objects())  # what a full collection would walk now
garbage = [[] for _ in range(3)]
for a, b in zip(garbage, garbage[1:] + garbage[:1]):
    a.append(b)  # a cycle made after start-up
del garbage, a, b
from services.heap import FROZEN_OBJECTS

shown = FROZEN_OBJECTS._value.get()  # what /metrics shows for this process
print(alive, gc.get_freeze_count(), walked, gc.collect(), int(shown))
"""


def test_a_process_keeps_what_start_up_built_out_of_collections_and_still_collects_what_comes_after():
    ran = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    alive, frozen, walked, collected, shown = map(int, ran.stdout.split())
    assert frozen >= alive * 0.9  # start-up's objects are out of the collector's sight
    assert walked < alive * 0.05
    assert collected >= 3  # a cycle made later is still collected
    assert shown == frozen  # operators see it: pakta_heap_frozen_objects


YOUNG_PROBE = """
import gc
import services.api.app
from services.heap import YOUNG_THRESHOLD, settle_heap_for_serving

settle_heap_for_serving()
young = []
gc.callbacks.append(lambda phase, info: phase == "start" and info["generation"] == 0 and young.append(1))
kept = [[] for _ in range(YOUNG_THRESHOLD // 2)]  # what a default threshold collected 5 times over
quiet = len(young)
kept += [[] for _ in range(YOUNG_THRESHOLD * 2)]
print(gc.get_threshold()[0], quiet, len(young))
"""


def test_a_serving_process_collects_its_youngest_objects_every_few_thousand_not_every_700():
    ran = subprocess.run([sys.executable, "-c", YOUNG_PROBE], capture_output=True, text=True, timeout=120, check=True)
    threshold, while_under, after = map(int, ran.stdout.split())
    assert threshold == 7_000
    assert while_under == 0  # 3,500 new objects: no collection yet
    assert after >= 1  # past the threshold the youngest generation is still collected


WORKER_PROBE = """
import gc
import services.worker.main
from services.heap import settle_heap_for_the_worker

default = gc.get_threshold()
settle_heap_for_the_worker()
print(gc.get_freeze_count() > 0, gc.get_threshold() == default)
"""


def test_the_worker_freezes_its_start_up_but_collects_its_youngest_objects_at_pythons_pace():
    # A worker's garbage is the workflows its cache lets go of; at 7,000 it held 435 MB with
    # 3,000 agreements asleep, at CPython's 700 it held 312 MB.
    ran = subprocess.run([sys.executable, "-c", WORKER_PROBE], capture_output=True, text=True, timeout=120, check=True)
    assert ran.stdout.split() == ["True", "True"]
