#!/usr/bin/env bash
# The C API test suite, from a clean clone:
#
#   bash tests/c/run.sh
#
# 1. formats and lints ffi-c, runs its Rust tests (the committed header is
#    what cbindgen 0.29.4 generates; its version macros and status codes are
#    the workspace's), unless NB_WORKSPACE_CHECKED=1 says scripts/test.sh
#    already did that for the whole workspace;
# 2. builds libnatsbridge.so and the nb-testenv harness in release;
# 3. compiles every tests/c/test_*.c with -Wall -Wextra -Werror and
#    AddressSanitizer (LeakSanitizer on) + UndefinedBehaviorSanitizer, linked
#    against target/release/libnatsbridge.so;
# 4. starts a real nats-server (JetStream) and the natsbridge file server
#    with nb-testenv, passes their URLs as NB_NATS_URL / NB_FILESERVER_URL,
#    and runs each program; any sanitizer report fails the run;
# 5. installs the library into a temporary prefix with ffi-c/install.sh,
#    compiles examples/c/send_receive.c with pkg-config and runs it;
# 6. packs the release tarball (scripts/c-tarball.sh), unpacks it elsewhere,
#    compiles the example with nothing but PKG_CONFIG_PATH pointing into it,
#    and runs it; then links it against the tarball's libnatsbridge.a and
#    runs that too.
#
# Needs: cargo, cc, pkg-config, nats-server on PATH.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
# Bounds every wait: the harness start and each test program.
START_TIMEOUT=60
TEST_TIMEOUT=180

step() { printf '\n== %s\n' "$*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/natsbridge-c-tests.XXXXXX")
testenv_pid=
stop_testenv() {
    if [[ -n "$testenv_pid" ]]; then
        # nb-testenv stops its servers when its stdin closes.
        eval "exec ${TESTENV_IN}>&-" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$testenv_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$testenv_pid" 2>/dev/null || true
        testenv_pid=
    fi
}
tls_pid=
stop_tls_testenv() {
    if [[ -n "$tls_pid" ]]; then
        exec {tls_in}>&- 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$tls_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$tls_pid" 2>/dev/null || true
        tls_pid=
    fi
}
cleanup() {
    stop_testenv
    stop_tls_testenv
    rm -rf "$work"
}
trap cleanup EXIT

# scripts/test.sh lints the whole workspace and runs its Rust tests first,
# and sets NB_WORKSPACE_CHECKED=1 so they are not run twice.
if [[ -z "${NB_WORKSPACE_CHECKED:-}" ]]; then
    step "format and lint natsbridge-ffi"
    cargo fmt -p natsbridge-ffi --check
    cargo clippy --release -p natsbridge-ffi --all-targets -- -D warnings

    step "Rust tests of natsbridge-ffi (header freshness, version macros, status codes)"
    cargo test --release -p natsbridge-ffi
fi

step "build libnatsbridge and nb-testenv (release)"
cargo build --release -p natsbridge-ffi
cargo build --release -p natsbridge-testkit --bin nb-testenv

step "compile the C tests with ASan + UBSan"
# The library's soname is libnatsbridge.so.0; point the loader at the
# freshly built library under that name.
mkdir -p "$work/lib" "$work/bin" "$work/logs"
ln -s "$target/release/libnatsbridge.so" "$work/lib/libnatsbridge.so.0"
cflags=(-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -g -O1
    -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
    -pthread -I "$root/include" -I "$root/tests/c")
tests=()
for source in "$root"/tests/c/test_*.c; do
    name=$(basename "$source" .c)
    cc "${cflags[@]}" "$source" -o "$work/bin/$name" \
        -L "$target/release" -lnatsbridge -Wl,-rpath,"$work/lib"
    tests+=("$name")
done
echo "compiled ${#tests[@]} programs: ${tests[*]}"

step "start nats-server and the file server (nb-testenv)"
coproc TESTENV { exec "$target/release/nb-testenv" 2>"$work/logs/nb-testenv.log"; }
testenv_pid=$TESTENV_PID
TESTENV_IN=${TESTENV[1]}
if ! read -r -t "$START_TIMEOUT" line <&"${TESTENV[0]}"; then
    echo "nb-testenv did not report its servers within ${START_TIMEOUT}s:" >&2
    cat "$work/logs/nb-testenv.log" >&2
    exit 1
fi
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$line"; }
NB_NATS_URL=$(json_field nats_url)
NB_FILESERVER_URL=$(json_field fileserver_url)
export NB_NATS_URL NB_FILESERVER_URL
echo "nats: $NB_NATS_URL  file server: $NB_FILESERVER_URL"

# A second nb-testenv for tests/c/test_tls_auth.c: NATS requiring TLS (a CA
# made at start) and a user/password. A FIFO holds its stdin open (bash has
# one coproc at a time); closing it stops the servers.
NB_TLS_PASSWORD="c-pw-$RANDOM$RANDOM"
mkfifo "$work/tls-in"
"$target/release/nb-testenv" --tls --user alice --password "$NB_TLS_PASSWORD" --no-jetstream \
    --no-fileserver <"$work/tls-in" >"$work/tls-line" 2>"$work/logs/nb-testenv-tls.log" &
tls_pid=$!
exec {tls_in}>"$work/tls-in"
for _ in $(seq 1 $((START_TIMEOUT * 10))); do
    [[ -s "$work/tls-line" ]] && break
    sleep 0.1
done
if [[ ! -s "$work/tls-line" ]]; then
    echo "nb-testenv --tls did not report its server within ${START_TIMEOUT}s:" >&2
    cat "$work/logs/nb-testenv-tls.log" >&2
    exit 1
fi
line=$(head -n 1 "$work/tls-line")
NB_TLS_NATS_URL=$(json_field nats_url)
NB_TLS_CA=$(json_field tls_ca)
NB_TLS_UNTRUSTED_CA=$(json_field tls_untrusted_ca)
export NB_TLS_NATS_URL NB_TLS_CA NB_TLS_UNTRUSTED_CA NB_TLS_PASSWORD
echo "nats with TLS and a password: $NB_TLS_NATS_URL"

# Sanitizers: leaks are errors; the first report of any kind fails the program.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Runs one sanitized program; fails on a non-zero exit or any sanitizer report.
failures=()
run_program() {
    local name=$1 log=$work/logs/$1.log
    shift
    local status=0
    timeout "$TEST_TIMEOUT" "$@" >"$log" 2>&1 || status=$?
    if [[ $status -ne 0 ]] || grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$log"; then
        echo "FAIL $name (exit $status)"
        sed 's/^/    /' "$log"
        failures+=("$name")
    else
        echo "ok   $name: $(tail -n 1 "$log")"
    fi
}

step "run the C tests"
for name in "${tests[@]}"; do
    run_program "$name" "$work/bin/$name"
done

step "install into a temporary prefix; build and run examples/c/send_receive.c with pkg-config"
prefix=$work/prefix
ffi-c/install.sh "$prefix"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
test "$(readlink "$prefix/lib/libnatsbridge.so")" = libnatsbridge.so.0
pkg_flags=$(pkg-config --cflags --libs natsbridge)
echo "pkg-config --cflags --libs natsbridge: $pkg_flags"
# Exactly the documented command first, then once more with the sanitizers.
# shellcheck disable=SC2086
cc examples/c/send_receive.c $pkg_flags -o "$work/bin/send_receive_plain"
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    examples/c/send_receive.c $pkg_flags -o "$work/bin/send_receive"
LD_LIBRARY_PATH=$prefix/lib NATS_URL=$NB_NATS_URL run_program send_receive_plain "$work/bin/send_receive_plain"
LD_LIBRARY_PATH=$prefix/lib NATS_URL=$NB_NATS_URL run_program send_receive "$work/bin/send_receive"

step "the release tarball (scripts/c-tarball.sh): unpack it, build the example with pkg-config only"
tarball=$(bash scripts/c-tarball.sh "$work/dist" | tail -n 1)
unpacked=$work/unpacked/$(basename "$tarball" .tar.gz)
mkdir -p "$unpacked"
tar -xzf "$tarball" -C "$unpacked"
for file in lib/libnatsbridge.so lib/libnatsbridge.so.0 lib/libnatsbridge.a include/natsbridge.h \
    lib/pkgconfig/natsbridge.pc; do
    test -e "$unpacked/$file" || { echo "FAIL tarball: $file missing from $(basename "$tarball")"; failures+=(tarball); }
done
# The library runs on any glibc >= 2.17 (scripts/link-cc links it with zig):
# no symbol of a newer glibc version is imported.
newest_glibc=$(objdump -T "$unpacked/lib/libnatsbridge.so.0" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
echo "newest glibc symbol version the library imports: $newest_glibc"
if [[ "$(printf '%s\n' "$newest_glibc" GLIBC_2.17 | sort -V | tail -n 1)" != GLIBC_2.17 ]]; then
    echo "FAIL tarball: libnatsbridge.so needs $newest_glibc; the baseline is GLIBC_2.17"
    failures+=(tarball-glibc)
fi
# Only PKG_CONFIG_PATH points at the unpacked tree: the .pc's ${pcfiledir}
# prefix gives the include and library folders wherever it was unpacked.
tar_pc() { PKG_CONFIG_PATH=$unpacked/lib/pkgconfig pkg-config "$@" natsbridge; }
echo "pkg-config --cflags --libs natsbridge: $(tar_pc --cflags --libs)"
# shellcheck disable=SC2046
cc examples/c/send_receive.c $(tar_pc --cflags --libs) -o "$work/bin/send_receive_tarball"
LD_LIBRARY_PATH=$(tar_pc --variable=libdir) NATS_URL=$NB_NATS_URL \
    run_program send_receive_tarball "$work/bin/send_receive_tarball"
# The static library (which carries the library's allocator, mimalloc, inside
# it): the same example linked against lib/libnatsbridge.a and the system
# libraries the .pc lists as private; no libnatsbridge.so at run time.
# shellcheck disable=SC2046
cc examples/c/send_receive.c $(tar_pc --cflags) "$unpacked/lib/libnatsbridge.a" \
    $(tar_pc --static --libs-only-l | sed 's/-lnatsbridge//') -o "$work/bin/send_receive_static"
if ldd "$work/bin/send_receive_static" | grep -q libnatsbridge; then
    echo "FAIL send_receive_static: linked against the shared library"
    failures+=(static)
fi
NATS_URL=$NB_NATS_URL run_program send_receive_static "$work/bin/send_receive_static"

stop_testenv
stop_tls_testenv
if [[ ${#failures[@]} -gt 0 ]]; then
    printf '\nC tests FAILED: %s\n' "${failures[*]}" >&2
    exit 1
fi
printf '\nC tests passed: %d programs, the example (installed, from the tarball, and static), under ASan (LeakSanitizer on) and UBSan, zero reports\n' \
    "${#tests[@]}"
