"""The processes' log lines (services/logging.py): our own structlog lines and the standard
library's records come out of the one handler, in one renderer, with the same fields — our
own written straight to the handler's stream (docs/performance-log.md, `perf-reads9`). Each case
runs in a process of its own, as `pakta api` configures its logging."""

from __future__ import annotations

import json
import subprocess
import sys

PREAMBLE = """
import logging, sys
import structlog
from services.logging import configure_logging
from services.settings import Settings

configure_logging(Settings(log_json={as_json}, log_level="INFO"))
log = structlog.get_logger("pakta.access")
"""


def lines_of(body: str, *, as_json: bool = True) -> list[str]:
    script = PREAMBLE.format(as_json=as_json) + body
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return ran.stderr.splitlines()


def test_the_access_line_is_one_json_object_with_the_request_fields_the_context_and_the_logger():
    (line,) = lines_of(
        """
structlog.contextvars.bind_contextvars(request_id="ab" * 16)
log.info("request", method="GET", path="/a\\u2028\\x00b", route="/a", status=200, duration_ms=3.2)
"""
    )
    fields = json.loads(line)
    assert list(fields) == [
        "method", "path", "route", "status", "duration_ms", "event", "request_id", "level", "logger", "timestamp"
    ]  # fmt: skip
    assert fields["path"] == "/a\u2028\x00b" and fields["status"] == 200 and fields["request_id"] == "ab" * 16
    assert (fields["event"], fields["level"], fields["logger"]) == ("request", "info", "pakta.access")
    assert fields["timestamp"].endswith("Z")


def test_our_lines_and_the_standard_librarys_records_come_out_of_one_handler_in_order():
    lines = lines_of(
        """
log.info("first")
logging.getLogger("uvicorn.error").warning("second %s", "from the standard library")
log.warning("third")
"""
    )
    events = [(json.loads(line)["event"], json.loads(line)["logger"]) for line in lines]
    assert events == [
        ("first", "pakta.access"),
        ("second from the standard library", "uvicorn.error"),
        ("third", "pakta.access"),
    ]


def test_a_level_set_at_run_time_decides_which_of_our_lines_are_written():
    lines = lines_of(
        """
log.debug("hidden")
logging.getLogger().setLevel(logging.DEBUG)
log.debug("shown")
logging.getLogger("pakta.access").setLevel(logging.ERROR)
log.warning("hidden too")
log.error("an error")
"""
    )
    assert [json.loads(line)["event"] for line in lines] == ["shown", "an error"]


def test_an_exception_is_logged_at_error_with_its_traceback():
    (line,) = lines_of(
        """
try:
    1 / 0
except ZeroDivisionError:
    log.exception("unhandled_error", method="GET")
"""
    )
    fields = json.loads(line)
    assert fields["level"] == "error" and "ZeroDivisionError: division by zero" in fields["exception"]


def test_the_console_renderer_writes_our_lines_and_the_standard_librarys_alike():
    lines = lines_of(
        """
log.info("request", status=200)
logging.getLogger("uvicorn.error").info("served")
""",
        as_json=False,
    )
    assert len(lines) == 2
    assert "request" in lines[0] and "[pakta.access]" in lines[0] and "status=200" in lines[0]
    assert "served" in lines[1] and "[uvicorn.error]" in lines[1]


def test_a_line_that_cannot_be_written_does_not_fail_the_caller():
    lines = lines_of(
        """
logging.getLogger().handlers[0].setStream(open("/dev/null", "r"))  # not writable
log.info("lost")
print("went on", file=sys.stderr)
"""
    )
    assert lines[-1] == "went on" and any("Logging error" in line for line in lines)


def test_logging_disabled_at_run_time_silences_our_lines_as_it_does_the_standard_librarys():
    lines = lines_of(
        """
logging.disable(logging.ERROR)
log.error("hidden")
logging.getLogger("uvicorn.error").error("hidden too")
log.critical("shown")
logging.disable(logging.NOTSET)
log.info("shown again")
"""
    )
    assert [json.loads(line)["event"] for line in lines] == ["shown", "shown again"]


def test_a_closed_standard_error_loses_the_lines_but_never_fails_the_caller():
    script = PREAMBLE.format(as_json=True) + (
        """
sys.stderr.close()
log.info("lost")
logging.getLogger("uvicorn.error").warning("lost too")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("lost with its traceback")
print("went on")
"""
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (ran.returncode, ran.stdout) == (0, "went on\n")


def test_threads_logging_at_once_write_whole_lines_never_interleaved():
    lines = lines_of(
        """
import threading
def write(n):
    for i in range(500):
        log.info("request", n=n, i=i, padding="x" * 5000)
threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
"""
    )
    assert sorted((fields["n"], fields["i"]) for fields in map(json.loads, lines)) == [
        (n, i) for n in range(8) for i in range(500)
    ]


def test_a_value_with_line_breaks_or_lone_surrogates_stays_on_its_one_line_in_either_renderer():
    body = """log.info("request", path="/a\\r\\nlevel=error forged", who="x\\udc80\\x00y")"""
    (as_json,) = lines_of(body)
    assert json.loads(as_json)["path"] == "/a\r\nlevel=error forged"
    (on_console,) = lines_of(body, as_json=False)
    assert "path='/a\\r\\nlevel=error forged'" in on_console
