#!/usr/bin/env bash
# Builds llama.cpp's `llama-server` from the source node-llama-cpp ships
# (node_modules/node-llama-cpp/llama/gitRelease.bundle, a git bundle), once, for the
# OpenAI-compatible provider's tests (test/llama-server.test.ts). The binary is cached OUTSIDE the
# checkout, keyed by node-llama-cpp's version and the bundle's commit:
#   ${ELOHIM_CACHE:-~/.cache/elohim}/llama-server-<node-llama-cpp version>-<commit>/llama-server
# Prints that path on its last line. About 7 minutes on 2 cores; runs under `nice`, -j2.
# Needs cmake, ninja (or make) and g++ (.ci/run installs them). Nothing is downloaded: the web UI's
# prebuilt assets (fetched from Hugging Face by default) and HTTPS are turned off.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pkg="$root/node_modules/node-llama-cpp"
bundle="$pkg/llama/gitRelease.bundle"
[ -f "$bundle" ] || { echo "build-llama-server: $bundle not found (npm install first)" >&2; exit 1; }
version="$(node -p "require('$pkg/package.json').version")"
commit="$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" { print substr($1, 1, 12) }')"
[ -n "$commit" ] || { echo "build-llama-server: no HEAD in $bundle" >&2; exit 1; }
cache="${ELOHIM_CACHE:-$HOME/.cache/elohim}"
out="$cache/llama-server-$version-$commit"
if [ -x "$out/llama-server" ]; then
  echo "$out/llama-server"
  exit 0
fi
for tool in cmake g++ git; do
  command -v "$tool" >/dev/null 2>&1 || { echo "build-llama-server: $tool is missing (apt-get install cmake ninja-build g++ git)" >&2; exit 1; }
done
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
mkdir -p "$cache"
# One build at a time (two test files may ask at once); the second waits, then finds the binary.
exec 9>"$cache/llama-server.lock"
flock 9
if [ -x "$out/llama-server" ]; then
  echo "$out/llama-server"
  exit 0
fi
work="$cache/llama-server-build-$version-$commit"
rm -rf "$work"
git clone --quiet "$bundle" "$work/src" 2>/dev/null
nice cmake -S "$work/src" -B "$work/build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF \
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF >"$work/cmake.log"
nice cmake --build "$work/build" --target llama-server -j "${ELOHIM_BUILD_JOBS:-2}" >"$work/build.log"
# Into place atomically: a half-copied binary must never look built.
mkdir -p "$out.tmp"
cp "$work/build/bin/llama-server" "$out.tmp/llama-server"
rm -rf "$out"
mv "$out.tmp" "$out"
rm -rf "$work"
echo "$out/llama-server"
