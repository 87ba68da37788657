#!/usr/bin/env bash
# The whole test run. Every stage runs even when an earlier one failed; the
# last line is a summary CI can read. Select stages by name:
#   scripts/run-tests.sh              # all
#   scripts/run-tests.sh unit asan    # some
# Build trees (build/, build-asan/, build-fuzz/, build-clang/, build-tsan/)
# are reused: the cache. The Clang stages use ccache when it is installed.
set -uo pipefail
cd "$(dirname "$0")/.."

all_stages=(build unit s3 rest glue crash asan tsa tsan fuzz integration spark)
stages=("$@")
[[ ${#stages[@]} -eq 0 ]] && stages=("${all_stages[@]}")
jobs=${FRAZIL_JOBS:-$(nproc)}
fuzz_seconds=${FRAZIL_FUZZ_SECONDS:-25}

stage_build() {
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build build -j "$jobs"
}

stage_unit() { ctest --test-dir build -L unit --output-on-failure -j "$jobs"; }

# The S3 object store against a real S3 server on loopback: setup-s3server.sh
# builds the server (gofakes3 behind tests/s3server, Go module proxy) once
# and prints its path; each test starts its own server and proxies.
stage_s3() {
  local bin
  bin=$(scripts/setup-s3server.sh | tail -n 1) &&
    cmake --build build -j "$jobs" --target frazil_s3_tests &&
    FRAZIL_S3SERVER_BIN="$bin" ctest --test-dir build -L s3 --output-on-failure -j "$jobs"
}

# The REST catalog against Apache Iceberg's REST catalog server and Project
# Nessie: setup-rest-catalog.sh and setup-nessie.sh fetch them from Maven
# Central once (~/.m2) and print their launchers; each test process starts
# its own servers on free ports (Nessie's tables on an S3 test server).
stage_rest() {
  local bin nessie s3bin skip=()
  nessie=$(nessie_launcher) || return 1
  [[ $nessie == none ]] && skip=(-E nessie)
  bin=$(scripts/setup-rest-catalog.sh | tail -n 1) &&
    s3bin=$(scripts/setup-s3server.sh | tail -n 1) &&
    cmake --build build -j "$jobs" --target frazil_rest_tests &&
    FRAZIL_REST_CATALOG_BIN="$bin" FRAZIL_NESSIE_BIN="$nessie" FRAZIL_S3SERVER_BIN="$s3bin" \
      ctest --test-dir build -L rest "${skip[@]}" --output-on-failure -j "$jobs"
}

# Nessie's launcher, or "none" (said loudly) on a machine without the Java
# 21 it needs, which no package source of this project provides: its tests
# are then skipped, the other REST tests still run. Any other setup failure
# fails the stage.
nessie_launcher() {
  local out rc
  out=$(scripts/setup-nessie.sh) && { tail -n 1 <<<"$out"; return 0; }
  rc=$?
  if ((rc == 3)); then
    echo "NESSIE SKIPPED: no Java 21 or newer on this machine; Nessie's tests do not run" >&2
    echo none
    return 0
  fi
  return 1
}

# The Glue catalog against moto (AWS emulator, from tests/requirements.txt)
# on loopback; each test starts its own moto_server.
stage_glue() {
  scripts/setup-venv.sh &&
    cmake --build build -j "$jobs" --target frazil_glue_tests &&
    FRAZIL_MOTO_SERVER_BIN="$PWD/.venv/bin/moto_server" ctest --test-dir build -L glue --output-on-failure -j "$jobs"
}

# Run directly, not through ctest, so its closing figures show in the log.
stage_crash() { build/tests/wal_crash_test; }

stage_asan() {
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFRAZIL_SANITIZE=ON \
    -DFRAZIL_BUILD_SERVER=OFF -DFRAZIL_BUILD_BENCH=OFF >/dev/null &&
    cmake --build build-asan -j "$jobs" --target frazil_unit_tests &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir build-asan -L unit --output-on-failure -j "$jobs"
}

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

# Clang's thread-safety analysis over everything (server, tests, benchmarks):
# a GUARDED_BY member touched without its lock is a compile error. The
# analysis runs before code generation, so this tree is built unoptimized and
# without debug information: 2.5x faster to compile, the same findings.
# The analysis sees only annotated locks: a std::mutex or
# std::condition_variable in the product's code (outside the annotated
# wrapper) fails the stage.
stage_tsa() {
  local raw
  raw=$(grep -rnE 'std::(mutex|shared_mutex|recursive_mutex|condition_variable)\b' src \
    --include='*.cc' --include='*.h' | grep -v '^src/frazil/common/mutex.h:')
  if [[ -n $raw ]]; then
    echo "unannotated locks (use frazil::Mutex/CondVar, src/frazil/common/mutex.h):" >&2
    echo "$raw" >&2
    return 1
  fi
  CC=clang CXX=clang++ cmake -S . -B build-clang -G Ninja -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_C_FLAGS="-O0 -g0" -DCMAKE_CXX_FLAGS="-O0 -g0" \
    -DFRAZIL_THREAD_SAFETY=ON "${launcher[@]}" >/dev/null &&
    cmake --build build-clang -j "$jobs"
}

# ThreadSanitizer: the unit tests and the broker stress test. gRPC, protobuf
# and Abseil are not instrumented; tests/tsan.supp names the few of their
# frames TSan misreads (see docs/concurrency.md). Any report fails the stage.
stage_tsan() {
  CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFRAZIL_TSAN=ON -DFRAZIL_BUILD_SERVER=OFF -DFRAZIL_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null &&
    cmake --build build-tsan -j "$jobs" --target frazil_unit_tests broker_stress_test || return 1
  local rc=0
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp"
  ctest --test-dir build-tsan -L unit --output-on-failure -j "$jobs" || rc=1
  # Run directly, not through ctest, so its figures show in the log.
  build-tsan/tests/stress/broker_stress_test --seconds="${FRAZIL_STRESS_SECONDS:-20}" || rc=1
  return $rc
}

stage_fuzz() {
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFRAZIL_FUZZ=ON >/dev/null &&
    cmake --build build-fuzz -j "$jobs" --target wal_segment_fuzz parquet_reader_fuzz avro_container_fuzz table_metadata_fuzz manifest_fuzz stored_message_fuzz schema_fuzz typed_payload_fuzz || return 1
  local target corpus rc=0
  for target in wal_segment parquet_reader avro_container table_metadata manifest stored_message schema typed_payload; do
    # Work on a copy of the seed corpus so new inputs do not dirty the tree.
    corpus=build-fuzz/corpus/$target
    mkdir -p "$corpus"
    cp -n tests/fuzz/corpus/$target/* "$corpus"/ 2>/dev/null || true
    echo "--- ${target}_fuzz for ${fuzz_seconds}s"
    (cd build-fuzz && ./${target}_fuzz -max_total_time="$fuzz_seconds" -print_final_stats=1 \
      -timeout=10 -rss_limit_mb=2048 corpus/$target 2>&1 | grep -E 'DONE|ERROR|SUMMARY|Test unit|stat::number_of_executed_units'
      exit "${PIPESTATUS[0]}") || rc=1
  done
  return $rc
}

# The tests marked s3 (warehouse on S3) start the S3 test server that
# setup-s3server.sh builds, and the danube-admin tests the admin client that
# setup-danube-admin.sh builds (crates.io); -rs prints why anything was skipped.
# Danube's Rust client (setup-danube-rust.sh, cargo; minutes the first time,
# then cached) is required too: a failed build fails the stage.
stage_integration() {
  local s3bin restbin nessiebin adminbin rsbin
  scripts/setup-venv.sh &&
    s3bin=$(scripts/setup-s3server.sh | tail -n 1) &&
    restbin=$(scripts/setup-rest-catalog.sh | tail -n 1) &&
    nessiebin=$(nessie_launcher) &&
    adminbin=$(scripts/setup-danube-admin.sh | tail -n 1) &&
    rsbin=$(scripts/setup-danube-rust.sh | tail -n 1) &&
    FRAZIL_S3SERVER_BIN="$s3bin" FRAZIL_REST_CATALOG_BIN="$restbin" FRAZIL_NESSIE_BIN="$nessiebin" \
      FRAZIL_DANUBE_ADMIN_BIN="$adminbin" FRAZIL_DANUBE_RS_BIN="$rsbin" FRAZIL_BIN="$PWD/build/frazil" \
      .venv/bin/python -m pytest -q -rs tests/integration
}

# A second engine that writes (issue 11): Spark with the Iceberg runtime and
# PyIceberg on the broker's catalog while it produces. setup-spark.sh
# installs pyspark and the jars (quick once done) and prints the jar paths.
stage_spark() {
  local jars
  jars=$(scripts/setup-spark.sh | tail -n 1) &&
    FRAZIL_SPARK_JARS="$jars" FRAZIL_BIN="$PWD/build/frazil" .venv/bin/python -m pytest -q tests/spark
}

declare -A result duration
failed=0
start_all=$SECONDS
for s in "${stages[@]}"; do
  if ! declare -F "stage_$s" >/dev/null; then
    echo "run-tests: unknown stage '$s' (stages: ${all_stages[*]})" >&2
    exit 2
  fi
  echo "=== stage $s ==="
  t0=$SECONDS
  if "stage_$s"; then result[$s]=PASS; else result[$s]=FAIL; failed=$((failed + 1)); fi
  duration[$s]=$((SECONDS - t0))
  echo "=== stage $s: ${result[$s]} (${duration[$s]}s) ==="
done

summary=""
for s in "${stages[@]}"; do summary+=" $s:${result[$s]}"; done
echo "FRAZIL TEST SUMMARY: ${#stages[@]} stages, $((${#stages[@]} - failed)) passed, $failed failed (${summary# }) in $((SECONDS - start_all))s"
[[ $failed -eq 0 ]]
