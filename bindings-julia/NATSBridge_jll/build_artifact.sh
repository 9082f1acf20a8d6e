#!/usr/bin/env bash
# Makes the NATSBridge_jll artifact from the cargo build:
#
#   1. scripts/c-tarball.sh packs lib/libnatsbridge.so*, lib/libnatsbridge.a,
#      include/natsbridge.h and lib/pkgconfig/natsbridge.pc into
#      dist/natsbridge-<version>-x86_64-linux-gnu.tar.gz;
#   2. the tarball is unpacked and its git-tree-sha1 computed twice, as Pkg
#      computes it (Pkg.GitTools.tree_hash, when this Julia has it) and by git
#      (`git add -A && git write-tree`); the two must agree;
#   3. NATSBridge_jll/Artifacts.toml is written with that git-tree-sha1, the
#      tarball's sha256 and a file:// download URL;
#   4. the unpacked tree is installed as <depot>/artifacts/<git-tree-sha1>/,
#      <depot> being the first entry of JULIA_DEPOT_PATH (default ~/.julia),
#      where the jll (and Pkg) look for it.
#
# Usage: bindings-julia/NATSBridge_jll/build_artifact.sh
# Prints the git-tree-sha1 as its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
tarball=$("$root/scripts/c-tarball.sh" | tail -n 1)
sha256=$(sha256sum "$tarball" | cut -d' ' -f1)

work=$(mktemp -d "${TMPDIR:-/tmp}/natsbridge-artifact.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/tree"
tar -xzf "$tarball" -C "$work/tree"

# git's own tree hash of the unpacked folder (no ignore rules, modes and
# symlinks as they are), in a throwaway repository outside the folder.
git init -q --bare "$work/git"
gitc() { git --git-dir="$work/git" --work-tree="$work/tree" -c core.excludesFile=/dev/null \
    -c core.fileMode=true -c core.symlinks=true -c core.autocrlf=false "$@"; }
(cd "$work/tree" && gitc add -A -f .)
git_hash=$(cd "$work/tree" && gitc write-tree)

# Pkg's computation, when this Julia has Pkg.GitTools (1.5 and later do).
julia=${JULIA:-julia}
if command -v "$julia" >/dev/null; then
    pkg_hash=$("$julia" --startup-file=no -e '
        import Pkg
        print(bytes2hex(Pkg.GitTools.tree_hash(ARGS[1])))' "$work/tree")
    if [[ "$pkg_hash" != "$git_hash" ]]; then
        echo "git-tree-sha1 mismatch: Pkg.GitTools.tree_hash $pkg_hash, git write-tree $git_hash" >&2
        exit 1
    fi
    echo "git-tree-sha1 $git_hash (Pkg.GitTools.tree_hash and git write-tree agree)" >&2
else
    echo "git-tree-sha1 $git_hash (git write-tree; no julia to cross-check)" >&2
fi

cat >"$here/Artifacts.toml" <<TOML
# Written by build_artifact.sh from $(basename "$tarball"); do not edit.
[[natsbridge]]
arch = "x86_64"
git-tree-sha1 = "$git_hash"
libc = "glibc"
os = "linux"

    [[natsbridge.download]]
    sha256 = "$sha256"
    url = "file://$tarball"
TOML

depot=${JULIA_DEPOT_PATH:-$HOME/.julia}
depot=${depot%%:*}
[[ -n "$depot" ]] || depot=$HOME/.julia
dest=$depot/artifacts/$git_hash
if [[ ! -d "$dest" ]]; then
    mkdir -p "$depot/artifacts"
    rm -rf "$dest.partial"
    cp -a "$work/tree" "$dest.partial"
    mv "$dest.partial" "$dest"
fi
echo "installed the artifact at $dest (sha256 of the tarball $sha256)" >&2
echo "$git_hash"
