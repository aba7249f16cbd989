#!/usr/bin/env bash
# Builds the Debian packages (strata, libstrata-dev) from a release build and checks them with
# lintian. The .deb files land in build/package/packages/.
#
#   scripts/package.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
# Debian's hardening flags (stack protector, fortify, full RELRO, PIE), as a package built with
# debhelper gets them; debug info is left out (the packages ship stripped binaries).
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cxxflags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)"
# -fno-ident: no compiler version comment in every object (lintian's unneeded-section notes).
cxxflags="$(echo "$cxxflags" | sed -E 's/(^| )-g( |$)/ /g') -fno-ident"
cmake --preset package -DCMAKE_CXX_FLAGS="$cxxflags" \
  -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)"
cmake --build --preset package -j "$(nproc)"
rm -rf build/package/packages
(cd build/package && cpack --config CPackConfig.cmake)

echo "== lintian"
# Errors fail the build; warnings are printed (packaging/README.md says why each remains).
lintian --fail-on error --display-info build/package/packages/*.deb
ls -l build/package/packages/*.deb
