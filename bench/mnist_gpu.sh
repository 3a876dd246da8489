#!/usr/bin/env bash
# The MNIST workflow's GPU figures (issue 17), one run each, on a machine with
# an NVIDIA GPU and a PyTorch wheel with CUDA (python3's torch):
#   1. builds ctflow against that libtorch into build-cuda: a plain CMake build
#      where Debian's -dev packages are installed, else scripts/offline-build.sh
#      DEPS_DIR (what scripts/offline-deps.sh gathered on a Debian 12 machine);
#   2. runs the CUDA test (tests/integration/mnist_cuda.sh: 300 steps on the
#      GPU and on the CPU, the results compared);
#   3. runs full Fashion-MNIST with the workflow's defaults and -p gpus=1
#      (bench/mnist_cpu.py fashion): end to end and per-step seconds, each
#      epoch's seconds, images/s, kNN accuracy. Targets on an H100: an epoch of
#      60,000 images under 3 s, the whole workflow under 30 s.
# Prints the figures as JSON last; every log goes to RESULTS (default $OUT
# where that is set, else bench-out/).
#
#   bench/mnist_gpu.sh [DEPS_DIR]        DEPS_DIR default: .deps
set -uo pipefail
cd "$(dirname "$0")/.."
deps="${1:-.deps}"
out="${RESULTS:-${OUT:-bench-out}}"
mkdir -p "$out"
py="$(command -v python3)"
export CTFLOW_TEST_PYTHON="$py"
t0=$(date +%s)
note() { echo "mnist_gpu [$(( $(date +%s) - t0 )) s]: $*" | tee -a "$out/steps.txt"; }

nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || { note "nvidia-smi failed: no NVIDIA GPU here"; exit 1; }
card="$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)"
note "GPU: $card; $(nproc) cores; torch $("$py" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)')"

# 1. the build
if [ -f "$deps/deps.tar.xz" ]; then
  bash scripts/offline-build.sh "$deps" build-cuda > "$out/build.log" 2>&1
else
  cmake -S . -B build-cuda -G Ninja -DCTFLOW_MNIST=ON \
    -DCMAKE_PREFIX_PATH="$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')" > "$out/build.log" 2>&1 &&
    cmake --build build-cuda --target ctflow ctflow_mnist >> "$out/build.log" 2>&1
fi
rc=$?
if [ "$rc" -ne 0 ]; then
  note "the build failed (rc $rc); its end:"
  grep -E "error|Error|FAILED" "$out/build.log" | head -40
  tail -30 "$out/build.log"
  exit 1
fi
grep -q "with CUDA" "$out/build.log" || { note "built, but libtorch has no CUDA: $(grep -m1 'libtorch' "$out/build.log")"; exit 1; }
note "built: $(grep -m1 'libtorch' "$out/build.log")"

# The tests look for leftover processes with pgrep/pkill (procps); a bare
# image may lack them: these do the `-f PATTERN` form the tests use.
if ! command -v pgrep > /dev/null; then
  shims="$(mktemp -d)"
  cat > "$shims/pgrep" <<'PY'
#!/usr/bin/env python3
import os, re, signal, sys
kill = os.path.basename(sys.argv[0]) == "pkill"
args = sys.argv[1:]
sig = next((a[1:] for a in args[:-1] if a.startswith("-") and a != "-f"), "TERM")
found = False
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) == os.getpid():
        continue
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        continue
    if cmd and re.search(args[-1], cmd):
        found = True
        if kill:
            try:
                os.kill(int(pid), getattr(signal, "SIG" + sig))
            except OSError:
                pass
        else:
            print(pid)
sys.exit(0 if found else 1)
PY
  chmod +x "$shims/pgrep"
  ln -s pgrep "$shims/pkill"
  export PATH="$shims:$PATH"
fi

# 2. the CUDA test
(cd build-cuda && ctest -R 'slow\.mnist_cuda$' --output-on-failure) > "$out/mnist_cuda.log" 2>&1
cuda_rc=$?
note "mnist_cuda: rc $cuda_rc: $(grep -E 'kNN accuracy after|cosine|Passed|Failed|Skipped|PASS|FAIL' "$out/mnist_cuda.log" | tr '\n' ' ' | cut -c1-600)"

# 3. the whole workflow on the GPU
CTFLOW_GPUS="${CTFLOW_GPUS:-1}" CTFLOW_BIN=build-cuda/ctflow "$py" bench/mnist_cpu.py fashion --no-python \
  --param gpus=1 > "$out/fashion_gpu.json" 2> "$out/fashion_gpu.err"
note "fashion on the GPU: rc $? $(tail -3 "$out/fashion_gpu.err")"
"$py" - "$out" "$card" "$cuda_rc" <<'PY'
import json, pathlib, sys
out, card, cuda_rc = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
try:
    fashion = json.loads((out / "fashion_gpu.json").read_text())
except (OSError, ValueError) as e:
    fashion = {"error": str(e)}
res = {"card": card, "mnist_cuda_test": "passed" if cuda_rc == 0 else f"rc {cuda_rc}", "fashion_gpus_1": fashion,
       "targets": {"epoch_of_60000_s": 3, "end_to_end_s": 30}}
t = fashion.get("train", {})
if t.get("images_per_s"):
    res["epoch_of_60000_s_at_mean_rate"] = round(60000 / t["images_per_s"], 2)
(out / "mnist_gpu.json").write_text(json.dumps(res, indent=1))
print(json.dumps(res, indent=1))
PY
