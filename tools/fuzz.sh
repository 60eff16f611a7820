#!/usr/bin/env bash
# fuzz.sh: build a libFuzzer target of tests/fuzz/ and run it.
#   Usage: tools/fuzz.sh TARGET SECONDS [libFuzzer options...]
#   TARGET: config | checkpoint (tests/fuzz/fuzz_TARGET.c)
#
# Builds the library sources (src/**/*.c but src/cli/main.c, float32) and the target
# with clang -fsanitize=fuzzer,address,undefined -g -O1 into build-fuzz/
# (cached: rebuilt only when a source, header or this script changes), copies
# the seed corpus tests/fuzz/corpus_TARGET/ to a temporary directory (the
# repository's corpus is never modified) and fuzzes for SECONDS. Prints the
# number of executions; exits nonzero when libFuzzer finds a crash, a leak,
# undefined behaviour or a timeout, and then names the reproducer, kept in
# build-fuzz/artifacts/. To replay one: build-fuzz/fuzz_TARGET-<hash> FILE.
#
# Needs clang and libclang-rt-14-dev (libFuzzer), libomp-dev (OpenMP for
# clang), and the libraries CMake uses: BLIS (OpenMP build), HDF5 (Debian's
# hdf5-serial, through pkg-config "hdf5"), inih (pkg-config "inih") and Open
# MPI (pkg-config "ompi-c"; the fuzz targets never start it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [[ $# -lt 2 || ! "$2" =~ ^[0-9]+$ ]]; then
    echo "usage: tools/fuzz.sh config|checkpoint SECONDS [libFuzzer options...]" >&2
    exit 2
fi
name=${1#fuzz_}
secs=$2
shift 2
src=tests/fuzz/fuzz_$name.c
corpus=tests/fuzz/corpus_$name
[[ -f $src ]] || { echo "fuzz.sh: no target $src" >&2; exit 2; }
[[ -d $corpus ]] || { echo "fuzz.sh: no seed corpus $corpus" >&2; exit 2; }

CC=${FUZZ_CC:-clang}
# 77: skipped (ctest SKIP_RETURN_CODE), when the tools are not there
command -v "$CC" >/dev/null || { echo "fuzz.sh: SKIPPED: $CC not found (tools/setup.sh installs clang)"; exit 77; }
[[ -f $("$CC" -print-file-name=libclang_rt.fuzzer-x86_64.a) ]] ||
    { echo "fuzz.sh: SKIPPED: libFuzzer not found (tools/setup.sh installs libclang-rt-14-dev)"; exit 77; }
BLIS_INC=/usr/include/x86_64-linux-gnu/blis-openmp
[[ -f $BLIS_INC/blis.h ]] || BLIS_INC=/usr/include/blis
CFLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -fopenmp
    -fsanitize=address,undefined -fno-sanitize-recover=undefined
    -Wall -Wno-unknown-pragmas -Wno-pass-failed
    -Iinclude -Isrc -isystem "$BLIS_INC" $(pkg-config --cflags hdf5 inih ompi-c)
    "-DRELGRAD_SOURCE_DIR=\"$ROOT\"")
LIBS=(-lblis $(pkg-config --libs hdf5 inih ompi-c) -lm)

out=build-fuzz
mkdir -p "$out/artifacts"
lib_sources=()
while IFS= read -r f; do lib_sources+=("$f"); done < <(find src -name '*.c' ! -path src/cli/main.c | sort)
# the cache key: every library source and header, the target, the flags
lib_hash=$( { cat "${lib_sources[@]}" $(find src include -name '*.h' | sort); echo "${CFLAGS[*]}"; } |
    sha1sum | cut -c1-12)
bin_hash=$( { echo "$lib_hash"; cat "$src"; } | sha1sum | cut -c1-12)
bin=$out/fuzz_$name-$bin_hash
objdir=$out/obj-$lib_hash

build() {
    local t0=$SECONDS
    if [[ ! -f $objdir/.done ]]; then
        echo "fuzz.sh: compiling ${#lib_sources[@]} library sources into $objdir"
        rm -rf "$objdir"
        mkdir -p "$objdir"
        # -fsanitize=fuzzer-no-link: coverage for the fuzzer, no main()
        printf '%s\n' "${lib_sources[@]}" |
            xargs -P "$(nproc)" -I{} sh -c 'f={}; o='"$objdir"'/$(echo "${f%.c}" | tr / _).o;
                exec "$0" "$@" -fsanitize=fuzzer-no-link -c "$f" -o "$o"' "$CC" "${CFLAGS[@]}"
        touch "$objdir/.done"
        # older caches
        find "$out" -maxdepth 1 -name 'obj-*' ! -name "obj-$lib_hash" -exec rm -rf {} +
    fi
    echo "fuzz.sh: linking $bin"
    "$CC" "${CFLAGS[@]}" -fsanitize=fuzzer "$src" "$objdir"/*.o "${LIBS[@]}" -o "$bin.tmp"
    mv "$bin.tmp" "$bin"
    find "$out" -maxdepth 1 -name "fuzz_$name-*" ! -name "fuzz_$name-$bin_hash" -delete
    echo "fuzz.sh: built in $((SECONDS - t0)) s"
}
if [[ ! -x $bin ]]; then
    # the two targets share the library objects: one build at a time
    exec 9>"$out/.lock"
    flock 9
    [[ -x $bin ]] || build
    flock -u 9
fi

# classify LOG: "hdf5" when the fault is HDF5's own (the faulting frame is
# in libhdf5 and so is the memory's allocation, or there is no allocation:
# SEGV, timeout, out-of-memory inside HDF5), otherwise "relgrad" (anything in
# relgrad's code, UB, a leak, the target's own checks, or relgrad memory
# overrun by an HDF5 call it made).
classify() {
    awk '
    function runtime(line) {
        return line ~ / in (__interceptor_|___interceptor_|__asan|__sanitizer|__ubsan|__lsan|fuzzer::|__GI_|__libc_)/ ||
               line ~ / in (malloc|calloc|realloc|free|strdup|strndup|memcpy|memmove|memset|strlen|strnlen|abort|raise|_start|main) / ||
               line ~ /\((\/lib\/x86_64-linux-gnu\/)?(libc|ld-linux)[^ ]*\.so/ || line ~ /libc_start|sysdeps\//
    }
    /runtime error:/ && !kind { kind = "ubsan" }
    /ERROR: LeakSanitizer/ && !kind { kind = "leak" }
    /ERROR: (AddressSanitizer|libFuzzer)/ && !kind { kind = "fault"; stack = 1; next }
    /allocated by thread/ { stack = 2; next }
    /^ *#[0-9]+ 0x/ {
        if (stack == 1 && top == "" && !runtime($0)) top = $0
        if (stack == 2 && alloc == "" && !runtime($0)) alloc = $0
        next
    }
    /^$/ { if (stack == 1 && top != "") stack = 0 }
    END {
        if (kind == "fault" && top ~ /libhdf5/ && (alloc == "" || alloc ~ /libhdf5/)) print "hdf5"
        else print "relgrad"
    }' "$1"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/relgrad-fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$corpus" "$work/corpus"
mkdir -p "$work/artifacts" "$out/artifacts/hdf5"
opts=(-print_final_stats=1 -timeout=20 -rss_limit_mb=2048 -close_fd_mask=1
    -artifact_prefix="$work/artifacts/")
[[ -f tests/fuzz/$name.dict ]] && opts+=(-dict="tests/fuzz/$name.dict")
# TMPDIR: fuzz_checkpoint's input file goes there, and goes with $work
export OMP_NUM_THREADS=1 HDF5_USE_FILE_LOCKING=FALSE TMPDIR=$work
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# leaks of blocks HDF5 allocated itself (its metadata cache loses entries when
# it fails to decode a malformed object header): not relgrad's to fix
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0}
echo "fuzz.sh: running fuzz_$name for $secs s on a copy of $corpus ($(ls "$corpus" | wc -l) seeds)"

# Fuzz until the time is up. A fault inside HDF5 itself (the Debian
# libhdf5 has known memory errors on malformed files) is kept aside and
# fuzzing goes on; anything else stops it and fails.
deadline=$((SECONDS + secs))
execs=0 starts=0 hdf5_faults=0 hdf5_example=""
while :; do
    left=$((deadline - SECONDS))
    ((left > 0)) || break
    starts=$((starts + 1))
    set +e
    "$bin" "${opts[@]}" -max_total_time="$left" "$@" "$work/corpus" >"$work/log" 2>&1
    rc=$?
    set -e
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
    execs=$((execs + ${n:-0}))
    ((rc == 0)) && break
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/log" | tail -n 1)
    if [[ -n "$artifact" && $(classify "$work/log") == hdf5 ]]; then
        hdf5_faults=$((hdf5_faults + 1))
        keep=$out/artifacts/hdf5/fuzz_$name-$(basename "$artifact")
        cp "$artifact" "$keep"
        [[ -n "$hdf5_example" ]] || {
            hdf5_example=$keep
            cp "$work/log" "$keep.log"
        }
        # never start again from an input that faults (it may have entered
        # the corpus in a run where it did not)
        rm -f "$work/corpus/$(basename "$artifact" | sed 's/^[a-z-]*-//')" "$artifact"
        ((starts < 500)) && continue
        break
    fi
    # a relgrad bug (or a fault without a reproducer)
    grep -E '^(==[0-9]+==.*ERROR|SUMMARY|READ|WRITE|.*runtime error|.*Test unit written|fuzz_(config|checkpoint):|.* is located|allocated by|    #[0-9]+ )' \
        "$work/log" | head -n 80 >&2
    keep=""
    if [[ -n "$artifact" ]]; then
        keep=$out/artifacts/fuzz_$name-$(basename "$artifact")
        cp "$artifact" "$keep"
        cp "$work/log" "$keep.log"
    fi
    echo "fuzz_$name: FAILED (libFuzzer exit $rc) after $execs executions;" \
        "reproducer: ${keep:-none written}; replay: $bin ${keep:-FILE}"
    exit 1
done
# keep the newest 20 HDF5 reproducers
{ ls -t "$out/artifacts/hdf5"/fuzz_"$name"-* 2>/dev/null || true; } | { grep -v '\.log$' || true; } |
    tail -n +21 | while read -r f; do rm -f "$f" "$f.log"; done
note=""
((hdf5_faults == 0)) || note="; $hdf5_faults faults inside the HDF5 library itself on malformed files (not relgrad's; fuzzing went on; example: $hdf5_example, its report: $hdf5_example.log)"
echo "fuzz_$name: $execs executions in $secs s ($starts start(s)), no crash, leak or undefined behaviour in relgrad$note"
