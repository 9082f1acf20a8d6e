"""The shipped Python artifacts, checked as a user gets them: the abi3 wheel
installed into fresh virtualenvs with no Rust toolchain on PATH, and the
sdist's contents. Run by ``tests/package/check_wheel.sh WHEEL``:

- ``NB_WHEEL`` (required): the wheel to check.
- ``NB_WHEEL_PYTHONS``: more interpreters to install it under, separated by
  ``os.pathsep`` (e.g. the CPython 3.9 and 3.13 of pyenv); the interpreter
  that runs these tests is always one of them.
- ``NB_WHEEL_PLATFORM``: the platform tag ``auditwheel show`` must report
  (e.g. ``manylinux_2_17_x86_64`` for the zig-linked wheel); without it the
  tag is printed and only its presence is checked.
- ``NB_SDIST_BUILD=1``: also build a wheel from the sdist with pip in a fresh
  virtualenv (a whole Rust compile from scratch: tens of minutes).

Not part of the normal suite (``tests/conftest.py`` ignores this folder
unless ``NB_WHEEL`` is set).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

import natsbridge

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
BIN = Path(sys.executable).parent
WHEEL = Path(os.environ["NB_WHEEL"]).resolve()
PYTHONS = [sys.executable] + [
    p for p in os.environ.get("NB_WHEEL_PYTHONS", "").split(os.pathsep) if p
]


def path_without_rust() -> str:
    """PATH minus every directory holding cargo or rustc (~/.cargo/bin)."""
    keep = [
        part
        for part in os.environ.get("PATH", "").split(os.pathsep)
        if part and not any(os.access(Path(part) / tool, os.X_OK) for tool in ("cargo", "rustc"))
    ]
    return os.pathsep.join(keep)


def no_rust_env() -> dict[str, str]:
    env = {**os.environ, "PATH": path_without_rust()}
    for name in ("CARGO_TARGET_DIR", "CARGO_HOME", "RUSTUP_HOME", "VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(name, None)
    return env


def base_python(python: str) -> str:
    """The interpreter a virtualenv's python was made from (venv in venv
    would inherit nothing, but the base one is what a user has)."""
    out = subprocess.run(
        [python, "-c", "import sys; print(getattr(sys, '_base_executable', sys.executable))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_the_wheel_is_abi3_for_cpython_3_9_and_up() -> None:
    assert re.fullmatch(r"natsbridge-[^-]+-cp39-abi3-[a-z0-9_.]+\.whl", WHEEL.name), WHEEL.name
    assert f"-{natsbridge.__version__}-" in WHEEL.name
    with zipfile.ZipFile(WHEEL) as wheel:
        names = wheel.namelist()
        extensions = [n for n in names if n.startswith("natsbridge/_natsbridge.") and ".so" in n]
        assert extensions == ["natsbridge/_natsbridge.abi3.so"], extensions
        (wheel_info,) = [n for n in names if n.endswith(".dist-info/WHEEL")]
        tags = re.findall(r"^Tag: (.+)$", wheel.read(wheel_info).decode(), re.M)
        assert tags and all(t.startswith("cp39-abi3-") for t in tags), tags
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = wheel.read(metadata).decode()
    assert "Requires-Python: >=3.9" in meta
    for version in ("3.9", "3.10", "3.11", "3.12", "3.13"):
        assert f"Classifier: Programming Language :: Python :: {version}" in meta, version
    assert re.search(r"^License-Expression: MIT$", meta, re.M), "license"
    assert any(n.endswith(("/LICENSE", "/licenses/LICENSE")) for n in names), "no license file"
    assert "natsbridge/py.typed" in names and "natsbridge/_natsbridge.pyi" in names


def test_auditwheel_reports_the_platform_tag() -> None:
    out = subprocess.run(
        [BIN / "auditwheel", "show", WHEEL], capture_output=True, text=True, check=True
    ).stdout
    print(out)
    # "WHEEL is consistent\nwith the following platform tag: "manylinux_2_34_x86_64"."
    tag = re.search(r'consistent\s+with\s+the\s+following\s+platform\s+tag:\s*"([^"]+)"', out)
    assert tag, out
    print(f"auditwheel platform tag: {tag.group(1)}")
    expected = os.environ.get("NB_WHEEL_PLATFORM")
    if expected:
        assert tag.group(1) == expected, out


@pytest.mark.parametrize("python", PYTHONS)
def test_the_wheel_installs_without_rust_and_round_trips(
    python: str, tmp_path: Path, nats_url: str, fileserver_url: str
) -> None:
    env = no_rust_env()
    assert subprocess.run(["which", "cargo"], env=env, capture_output=True).returncode != 0
    fresh = tmp_path / "venv"
    subprocess.run([base_python(python), "-m", "venv", fresh], env=env, check=True)
    subprocess.run(
        [
            fresh / "bin" / "python",
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-index",
            "--no-deps",
            WHEEL,
        ],
        env=env,
        check=True,
    )
    out = subprocess.run(
        [fresh / "bin" / "python", HERE / "smoke.py", nats_url, fileserver_url],
        env=env,
        cwd=tmp_path,  # so that no natsbridge source folder is on sys.path
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    print(report)
    assert report["version"] == natsbridge.__version__
    assert report["extension"].startswith(str(fresh)), report["extension"]
    assert report["extension"].endswith("_natsbridge.abi3.so"), report["extension"]
    assert report["python"] >= [3, 9]
    transports = report["transports"]
    assert transports.pop("binary") == "link"
    assert set(transports.values()) == {"direct"}, transports


def sdist(out: Path) -> Path:
    subprocess.run(
        [BIN / "maturin", "sdist", "-m", REPO / "bindings-python" / "Cargo.toml", "--out", out],
        check=True,
        capture_output=True,
    )
    (made,) = out.glob("natsbridge-*.tar.gz")
    return made


def test_the_sdist_holds_what_a_build_needs(tmp_path: Path) -> None:
    made = sdist(tmp_path)
    assert made.name == f"natsbridge-{natsbridge.__version__}.tar.gz"
    with tarfile.open(made) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in (
        "pyproject.toml",
        "PKG-INFO",
        "Cargo.toml",
        "Cargo.lock",
        "core/Cargo.toml",
        "core/src/lib.rs",
        "bindings-python/Cargo.toml",
        "bindings-python/src/lib.rs",
        "bindings-python/README.md",
        # maturin moves the python-source folder to the top (its pyproject says so).
        "python/natsbridge/__init__.py",
        "python/natsbridge/_envelope.py",
        "python/natsbridge/_natsbridge.pyi",
        "python/natsbridge/py.typed",
        "LICENSE",
    ):
        assert needed in names, f"{needed} missing from {made.name}"
    assert not any(n.startswith(("target/", ".venv/", "node_modules/")) for n in names)


@pytest.mark.skipif(
    os.environ.get("NB_SDIST_BUILD") != "1",
    reason="compiles natsbridge and every dependency from scratch (tens of minutes on 2 cores): "
    "set NB_SDIST_BUILD=1",
)
def test_the_sdist_builds_a_wheel_in_a_fresh_venv(tmp_path: Path) -> None:
    made = sdist(tmp_path / "sdist")
    fresh = tmp_path / "venv"
    subprocess.run([base_python(sys.executable), "-m", "venv", fresh], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("CARGO_TARGET_DIR", "VIRTUAL_ENV")}
    started = time.monotonic()
    subprocess.run(
        [
            fresh / "bin" / "python",
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            made,
            "-w",
            tmp_path / "wheels",
        ],
        env=env,
        check=True,
    )
    print(f"pip wheel {made.name}: {time.monotonic() - started:.0f} s")
    (built,) = (tmp_path / "wheels").glob("natsbridge-*.whl")
    assert "-cp39-abi3-" in built.name, built.name
