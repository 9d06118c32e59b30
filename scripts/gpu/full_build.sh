#!/usr/bin/env bash
# On a GPU machine without the CPU build's -dev packages (the lent H200s): unpacks the Debian packages carried in
# .deps/ (fetched on the dev machine with `apt-get download`, see docs/gpu-tests.md) into a private prefix, configures
# the FULL build (CPU + CUDA) against it, and builds the given targets with ninja. Logs go to $OUT (or build-gpu/out).
#   scripts/gpu/full_build.sh [TARGET...]      (default: verbatim test_cuda test_cuda_backend test_invariance
#                                                bench_decode_cuda)
# Afterwards: source build-gpu/env.sh to get LD_LIBRARY_PATH for the binaries in build-gpu/bin.
# BUILD_DIR (default build-gpu) and VERBATIM_CUDA (default ON; OFF checks the CPU-only build) override.
set -uo pipefail
cd "$(dirname "$0")/../.."
bdir=${BUILD_DIR:-build-gpu}
out=${OUT:-$PWD/$bdir/out}
mkdir -p "$out" "$bdir"
prefix=/tmp/verbatim-deps
arch=x86_64-linux-gnu
mkdir -p "$prefix"
touch "$prefix/.unpacked"
for f in .deps/*.deb; do  # each package once (a warm machine keeps the prefix; new packages still get unpacked)
  grep -qxF "$(basename "$f")" "$prefix/.unpacked" && continue
  dpkg -x "$f" "$prefix" || { echo "dpkg -x $f failed"; exit 1; }
  basename "$f" >>"$prefix/.unpacked"
done
# pkg-config: only our .pc files, their /usr paths moved under the prefix.
pcdir=$prefix/pc
mkdir -p "$pcdir"
cp "$prefix"/usr/lib/$arch/pkgconfig/*.pc "$pcdir"/ 2>/dev/null
cp "$prefix"/usr/lib/$arch/openblas-pthread/pkgconfig/openblas.pc "$pcdir"/
sed -i "s|/usr|$prefix/usr|g" "$pcdir"/*.pc
export PKG_CONFIG_LIBDIR=$pcdir
export LD_LIBRARY_PATH=$prefix/usr/lib/$arch:$prefix/usr/lib/$arch/openblas-pthread:${LD_LIBRARY_PATH:-}
echo "export LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >"$bdir/env.sh"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda)
{
  echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm), $(nproc) cores"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
  nvcc --version | tail -1
} | tee "$out/env.log"
t0=$(date +%s)
cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVERBATIM_CUDA="${VERBATIM_CUDA:-ON}" \
  -DCMAKE_PREFIX_PATH="$prefix/usr;$prefix/usr/lib/$arch/cmake" -DCMAKE_LIBRARY_PATH="$prefix/usr/lib/$arch" \
  -DCMAKE_INCLUDE_PATH="$prefix/usr/include" ${VERBATIM_CMAKE_ARGS:-} >"$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
ninja -C "$bdir" -j"$(nproc)" "${targets[@]}" >"$out/build.log" 2>&1 || { grep -B2 -A12 -m3 'error' "$out/build.log" | head -80; tail -20 "$out/build.log"; exit 1; }
echo "full_build.sh: built ${targets[*]} in $(($(date +%s) - t0)) s" | tee -a "$out/env.log"
