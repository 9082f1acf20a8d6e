"""The shipped Python artifacts: the abi3 manylinux wheel scripts/setup.sh built
(scripts/build-packages.sh, maturin --zig) and installed into this .venv, and
the sdist's contents (scripts/release.sh builds one wheel from it)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import pytest

import natsbridge

REPO = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def wheel() -> Path:
    found = sorted(
        (TARGET / "wheels").glob(f"natsbridge-{natsbridge.__version__}-cp39-abi3-manylinux*.whl")
    )
    assert found, f"no abi3 wheel in {TARGET / 'wheels'}: run scripts/setup.sh"
    return found[-1]


def test_the_wheel_is_abi3_and_manylinux(wheel: Path) -> None:
    shown = subprocess.run(
        [BIN / "auditwheel", "show", wheel], capture_output=True, text=True, check=True
    ).stdout
    # "... is consistent with the following platform tag: "manylinux_2_17_x86_64""
    assert '"manylinux_2_17_x86_64"' in shown, shown
    assert "cp39-abi3" in wheel.name
    assert "manylinux_2_17_x86_64" in wheel.name


def test_this_venv_runs_that_wheel(wheel: Path) -> None:
    record = subprocess.run(
        [BIN / "pip", "show", "-f", "natsbridge"], capture_output=True, text=True, check=True
    ).stdout
    extension = next(line.strip() for line in record.splitlines() if "_natsbridge." in line)
    assert extension.endswith(".abi3.so"), extension


def path_without_rust() -> str:
    keep = [
        part
        for part in os.environ.get("PATH", "").split(os.pathsep)
        if part and not any(os.access(Path(part) / tool, os.X_OK) for tool in ("cargo", "rustc"))
    ]
    return os.pathsep.join(keep)


SMOKE = """
import sys, natsbridge
nats_url, fileserver_url = sys.argv[1], sys.argv[2]
with natsbridge.Bridge(nats_url) as bridge, bridge.subscribe("package.smoke") as sub:
    blob = bytes(range(256)) * 4096
    sent = bridge.send(
        "package.smoke",
        [("message", "from the wheel", "text"), ("blob", blob, "binary")],
        fileserver_url=fileserver_url,
        size_threshold=100_000,
    )
    envelope = sub.next(timeout=10)
(_, text, _), (_, data, _) = envelope["payloads"]
transports = [p["transport"] for p in sent["payloads"]]
print(natsbridge.__version__, text, data == blob, transports)
"""


def test_the_wheel_installs_into_a_fresh_venv_and_round_trips(
    wheel: Path, tmp_path: Path, nats_url: str, fileserver_url: str
) -> None:
    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(fresh)
    env = {**os.environ, "PATH": path_without_rust()}
    env.pop("CARGO_TARGET_DIR", None)
    assert subprocess.run(["which", "cargo"], env=env, capture_output=True).returncode != 0
    subprocess.run(
        [fresh / "bin" / "pip", "install", "-q", "--no-index", "--no-deps", wheel],
        env=env,
        check=True,
    )
    out = subprocess.run(
        [fresh / "bin" / "python", "-c", SMOKE, nats_url, fileserver_url],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        f"{natsbridge.__version__} from the wheel True ['direct', 'link']"
    )


def test_the_sdist_holds_what_a_build_needs(tmp_path: Path) -> None:
    subprocess.run(
        [
            BIN / "maturin",
            "sdist",
            "-q",
            "-m",
            REPO / "bindings-python" / "Cargo.toml",
            "--out",
            tmp_path,
        ],
        check=True,
        capture_output=True,
    )
    (sdist,) = tmp_path.glob("natsbridge-*.tar.gz")
    assert sdist.name == f"natsbridge-{natsbridge.__version__}.tar.gz"
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in (
        "pyproject.toml",
        "PKG-INFO",
        "Cargo.toml",
        "Cargo.lock",
        "core/src/lib.rs",
        "core/Cargo.toml",
        "bindings-python/Cargo.toml",
        "bindings-python/src/lib.rs",
        "bindings-python/python/natsbridge/__init__.py",
        "bindings-python/python/natsbridge/_natsbridge.pyi",
    ):
        assert needed in names, f"{needed} missing from {sdist.name}"
    assert not any(name.startswith(("target/", ".venv/")) for name in names)
