#!/usr/bin/env python3
"""One version for every package: checks that each place a version is written
agrees with the workspace's `Cargo.toml`.

    python3 scripts/check-versions.py

Places: the workspace version and its path-dependency pins (every
`version = "..."` on a `path` dependency), the Python package (its version is
dynamic: maturin reads the crate's, so pyproject must say so), every
`package.json` with a version (the Node package, its platform packages and its
`optionalDependencies` on them), the Julia `Project.toml`s (and the jll compat
of NATSBridge), the MicroPython `__version__`, the C header's version macros
and `CHANGELOG.md`'s top released entry. Prints one line per place and exits 1
on the first disagreement it reports (after listing all of them).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_toml(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def main() -> int:
    expected = read_toml(ROOT / "Cargo.toml")["workspace"]["package"]["version"]
    found: list[tuple[str, str | None]] = []

    # Path dependencies pinned with a version (crates.io needs one).
    for manifest in sorted(ROOT.glob("**/Cargo.toml")):
        if any(part in {"target", "node_modules"} for part in manifest.parts):
            continue
        text = manifest.read_text(encoding="utf-8")
        for name, version in re.findall(
            r'^([\w-]+)\s*=\s*\{[^}\n]*path\s*=[^}\n]*version\s*=\s*"([^"]+)"',
            text,
            re.MULTILINE,
        ):
            found.append((f"{manifest.relative_to(ROOT)}: dependency {name}", version))
        crate = read_toml(manifest).get("package", {})
        # An unpublished crate outside the workspace (fuzz/libfuzzer) ships nothing.
        if crate.get("publish") is False:
            continue
        if "version" in crate and crate["version"] != {"workspace": True}:
            found.append(
                (
                    f"{manifest.relative_to(ROOT)}: package.version",
                    str(crate["version"]),
                )
            )

    # Python: maturin takes the crate's version; a static one would drift.
    pyproject = read_toml(ROOT / "bindings-python/pyproject.toml")["project"]
    dynamic = "version" in pyproject.get("dynamic", []) and "version" not in pyproject
    found.append(
        (
            "bindings-python/pyproject.toml: version is dynamic (from Cargo.toml)",
            expected if dynamic else pyproject.get("version", "<not dynamic>"),
        )
    )

    for package_json in sorted(ROOT.glob("bindings-node/**/package.json")):
        if "node_modules" in package_json.parts:
            continue
        manifest = json.loads(package_json.read_text(encoding="utf-8"))
        where = package_json.relative_to(ROOT)
        found.append((f"{where}: version", manifest.get("version")))
        for name, spec in manifest.get("optionalDependencies", {}).items():
            found.append((f"{where}: optionalDependencies.{name}", spec))

    for project in sorted(ROOT.glob("bindings-julia/*/Project.toml")):
        toml = read_toml(project)
        found.append((f"{project.relative_to(ROOT)}: version", toml.get("version")))
        jll = toml.get("compat", {}).get("NATSBridge_jll")
        if jll is not None:
            found.append(
                (f"{project.relative_to(ROOT)}: compat NATSBridge_jll", jll.lstrip("="))
            )

    micro = (ROOT / "bindings-micropython/natsbridge_micro.py").read_text(
        encoding="utf-8"
    )
    match = re.search(r'^__version__ = "([^"]+)"', micro, re.MULTILINE)
    found.append(
        ("bindings-micropython/natsbridge_micro.py: __version__", match and match[1])
    )

    header = (ROOT / "include/natsbridge.h").read_text(encoding="utf-8")
    parts = [
        re.search(rf"^#define NATSBRIDGE_VERSION_{part} (\d+)$", header, re.MULTILINE)
        for part in ("MAJOR", "MINOR", "PATCH")
    ]
    found.append(
        (
            "include/natsbridge.h: NATSBRIDGE_VERSION_{MAJOR,MINOR,PATCH}",
            ".".join(m[1] for m in parts) if all(parts) else None,
        )
    )

    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    match = re.search(r"^## \[(\d+\.\d+\.\d+[^\]]*)\]", changelog, re.MULTILINE)
    found.append(("CHANGELOG.md: top released entry", match and match[1]))

    bad = [(where, version) for where, version in found if version != expected]
    for where, version in found:
        mark = "ok " if version == expected else "BAD"
        print(f"{mark} {where}: {version}")
    print(f"every version should be Cargo.toml's {expected}")
    print(f"versions: {len(found) - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
