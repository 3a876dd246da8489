#!/usr/bin/env bash
# Installs what ctflow needs on Debian 12, from Debian's packages only.
#   scripts/setup.sh          build + run (engine, MNIST plugins, data)
#   scripts/setup.sh --test   also every program the test suite calls that a
#                             minimal Debian 12 (debootstrap --variant=minbase)
#                             lacks: compilers for the sanitizers, podman,
#                             chromium, curl, procps, the benchmark peers
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

pkgs=(
  # build
  cmake ninja-build g++ ccache pkg-config
  libboost-dev libboost-graph-dev libyaml-cpp-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev
  doctest-dev nlohmann-json3-dev libcli11-dev libssl-dev zlib1g-dev libpng-dev
  # ML: libtorch, faiss, a fast BLAS, the Fashion-MNIST data set
  libtorch-dev libfaiss-dev libopenblas0-pthread libopenblas-dev liblapack-dev libomp-dev
  dataset-fashion-mnist
  # interop checks and the Argo schema check
  python3 python3-torch python3-faiss python3-numpy python3-jsonschema python3-yaml
  # the IoT predictive-maintenance workflow: XGBoost (C API) and its Python twin for the interop test
  libxgboost-dev python3-xgboost
  # npm (the digits data set, playwright-core) fetches over https
  ca-certificates
)
if (( want_test )); then
  pkgs+=(
    clang libclang-rt-14-dev          # libFuzzer, ASan/UBSan
    busybox-static                    # a /bin/sh for the ctflow image
    podman runc catatonit             # container steps (catatonit: podman run --init)
    chromium                          # dashboard tests (driven by npm playwright-core)
    curl                              # HTTP checks of ctflow serve
    prometheus                        # deploy/monitoring: promtool checks, a real Prometheus scraping ctflow serve
    procps                            # pgrep, pkill: the tests look for leftover processes
    ninja-build snakemake hyperfine wrk  # benchmark peers
    protobuf-compiler python3-protobuf  # the Kubeflow proto check (tests/kfp_proto_check.py; python3-yaml is above)
  )
fi
command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi
