#!/usr/bin/env bash
# CI sanitizer jobs (.ci/run runs them before scripts/test.sh): unit tests under ASan+UBSan
# (build-asan), the ServableModel refcount stress test under TSan (build-tsan),
# and each libFuzzer target for a bounded time with clang (build-fuzz).
# Only the targets these jobs need are built. FUZZ_SECONDS (default 60) sets
# the time per fuzz target; SANITIZER_JOBS (default "asan tsan fuzz") picks jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
JOBS=$(nproc)
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
SANITIZER_JOBS=${SANITIZER_JOBS:-asan tsan fuzz}
wants() { [[ " $SANITIZER_JOBS " == *" $1 "* ]]; }

if wants asan; then
echo "== ASan + UBSan: unit tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDLAE_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS" --target common_tests core_tests x86_kernels_tests trainer_tests sparse_low_rank_tests eval_tests \
  trainer_robustness_tests servable_model_stress_test server_tests server_robustness_tests cli_flag_tests \
  edlae-server edlae-client edlae-train edlae_python_client
# halt_on_error: any report fails the job. LeakSanitizer stays on.
export ASAN_OPTIONS=halt_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The Python-driven deploy tests exercise the same C++ server the Release run
# already covers; they need the Python package target, which is not built here.
(cd build-asan && ctest --output-on-failure --timeout 600 -j"$JOBS" \
  -E '^(python_client|nginx_scale_out|k8s_manifests|deploy_observability)$')
fi

if wants tsan; then
echo "== ThreadSanitizer: refcount stress"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDLAE_SANITIZE_THREAD=ON >/dev/null
cmake --build build-tsan -j"$JOBS" --target servable_model_stress_test
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build-tsan/tests/servable_model_stress_test
fi

if wants fuzz; then
echo "== libFuzzer: ${FUZZ_SECONDS} s per target"
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DEDLAE_BUILD_FUZZERS=ON -DEDLAE_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$JOBS" --target model_parser_fuzzer recommend_fuzzer
for target in model_parser_fuzzer recommend_fuzzer; do
  corpus=$(mktemp -d)  # new inputs go here; the committed seeds stay as they are
  seeds=fuzz/corpus/${target%_fuzzer}
  ASAN_OPTIONS=halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1 \
    "build-fuzz/fuzz/$target" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
    -rss_limit_mb=2048 -timeout=10 "$corpus" "$seeds" 2>"build-fuzz/$target.log" \
    || { tail -50 "build-fuzz/$target.log"; exit 1; }
  echo "$target: $(grep -E 'stat::number_of_executed_units' "build-fuzz/$target.log" | awk '{print $2}') executions," \
       "$(ls "$corpus" | wc -l) new corpus units"
  rm -rf "$corpus"
done
fi
echo "sanitizer jobs passed"
