#!/usr/bin/env bash
# The Debian packages as an operator meets them: built and checked by lintian
# (scripts/package.sh), installed with dpkg, the installed binary, configuration, unit and man
# page checked, a HIT served through the installed binary with the installed configuration,
# libstrata-dev used by a project outside the tree, and a purge that leaves nothing behind.
# It installs into this machine's system directories, so it needs root (or sudo), and refuses
# to run where a strata package is already installed.
#
#   tests/package/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "package test: needs root or sudo to run dpkg" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
for package in strata libstrata-dev; do
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'installed'; then
    echo "package test: $package is installed on this machine; purge it first (dpkg --purge $package)" >&2
    exit 1
  fi
done

scripts/package.sh
debs=(build/package/packages/strata_*.deb build/package/packages/libstrata-dev_*.deb)
echo "== package contents and size"
for deb in "${debs[@]}"; do
  echo "$(basename "$deb"): $(stat -c %s "$deb") bytes, installed $(dpkg-deb -f "$deb" Installed-Size) KiB"
  dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print "  " $6}'
done

work=$(mktemp -d /tmp/strata-package.XXXXXX)
server_pids=()
cleanup() {
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  "${sudo_cmd[@]}" dpkg --purge strata libstrata-dev >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== dpkg -i"
if ! "${sudo_cmd[@]}" dpkg -i "${debs[@]}"; then
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -f install -y -q --no-install-recommends
fi
dpkg-query -W -f='${Status}\n' strata | grep -q 'install ok installed'

fail() { echo "package test: $*" >&2; exit 1; }

echo "== the installed binary, configuration, unit and man page"
version=$(/usr/bin/strata --version)
[[ $version == "strata $(dpkg-query -W -f='${Version}' strata | cut -d- -f1)" ]] || fail "version: $version"
/usr/bin/strata serve --check --config /etc/strata/strata.toml
[[ $(dpkg-query -W -f='${Conffiles}' strata) == *"/etc/strata/strata.toml"* ]] || fail "strata.toml is not a conffile"
# The page as the package holds it (a dpkg path-exclude, as slim container images set for
# /usr/share/man, would leave nothing installed to read).
dpkg-deb --fsys-tarfile build/package/packages/strata_*.deb | tar -x -C "$work" ./usr/share/man/man1/strata.1.gz
man_warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$work/usr/share/man/man1/strata.1.gz" 2>&1 >/dev/null)
[[ -z $man_warnings ]] || fail "man page warnings: $man_warnings"
man -l "$work/usr/share/man/man1/strata.1.gz" 2>/dev/null | grep -q "strata warm" || fail "the man page lacks strata warm"
if command -v systemd-analyze >/dev/null; then
  verify=$(systemd-analyze verify /lib/systemd/system/strata.service 2>&1) || fail "systemd-analyze verify: $verify"
  [[ -z $verify ]] || fail "systemd-analyze verify: $verify"
  echo "systemd-analyze verify: clean"
  # The sandbox's exposure score (0 to 10, lower is tighter) stays at most 2.0.
  exposure=$(systemd-analyze security --offline=yes --threshold=20 /lib/systemd/system/strata.service 2>&1) ||
    fail "the unit's exposure rose above 2.0: $(tail -1 <<<"$exposure")"
  tail -1 <<<"$exposure"
else
  echo "systemd-analyze: not installed here, unit not verified"
fi

echo "== a HIT through the installed binary with the installed configuration"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
origin_port=$(free_port)
python3 - "$origin_port" "$work/origin-requests" >"$work/origin.log" 2>&1 <<'PY' &
import http.server, sys
port, log = int(sys.argv[1]), sys.argv[2]
class Origin(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as seen:
            seen.write(self.path + "\n")
        body = b'{"item": "%s"}' % self.path.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "public, max-age=60")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Origin).serve_forever()
PY
server_pids+=($!)
listen_port=$(free_port)
admin_port=$(free_port)
STRATA_LISTEN="127.0.0.1:$listen_port" STRATA_ORIGIN="http://127.0.0.1:$origin_port" \
  STRATA_ADMIN_LISTEN="127.0.0.1:$admin_port" \
  /usr/bin/strata serve --config /etc/strata/strata.toml >"$work/strata.log" 2>&1 &
server_pids+=($!)
for _ in $(seq 100); do
  grep -q "listening on" "$work/strata.log" && curl -s -o /dev/null "http://127.0.0.1:$origin_port/" && break
  sleep 0.1
done
grep -q "listening on" "$work/strata.log" || { cat "$work/strata.log" >&2; fail "strata serve did not start"; }
first=$(curl -s -D - -o "$work/body1" "http://127.0.0.1:$listen_port/items/1" | tr -d '\r')
second=$(curl -s -D - -o "$work/body2" "http://127.0.0.1:$listen_port/items/1" | tr -d '\r')
grep -qi '^x-cache: MISS' <<<"$first" || fail "first request: $first"
grep -qi '^x-cache: HIT' <<<"$second" || fail "second request: $second"
cmp -s "$work/body1" "$work/body2" || fail "the HIT's body differs from the origin's"
[[ $(grep -c '^/items/1$' "$work/origin-requests") == 1 ]] || fail "the origin saw /items/1 more than once"
# The admin API listens on its own port and refuses callers until a token digest is configured.
admin_status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/api/cache/stats")
[[ $admin_status == 401 ]] || fail "admin API without credentials answered $admin_status"
admin_status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer guess' \
  "http://127.0.0.1:$admin_port/api/cache/stats")
[[ $admin_status == 403 ]] || fail "admin API with no token configured answered $admin_status to a bearer token"
main_status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$listen_port/api/cache/stats")
[[ $main_status != 200 ]] || fail "the admin API answered on the main listener"
echo "MISS then HIT, one origin request; admin API on its own listener, refused without a token"

echo "== libstrata-dev from a project outside the tree"
cmake -S tests/consumer -B "$work/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$work/consumer.log" ||
  { cat "$work/consumer.log" >&2; fail "find_package(strata) against the package"; }
cmake --build "$work/consumer" >>"$work/consumer.log" || { cat "$work/consumer.log" >&2; fail "consumer build"; }
"$work/consumer/my_service"
# shellcheck disable=SC2046  # word splitting is what pkg-config's output needs
g++ tests/consumer/main.cpp -o "$work/my_service_pc" $(pkg-config --cflags --libs strata)
"$work/my_service_pc"

echo "== an edited configuration survives a reinstall and a remove; purge takes it"
for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
server_pids=()
echo '# edited by the operator' | "${sudo_cmd[@]}" tee -a /etc/strata/strata.toml >/dev/null
"${sudo_cmd[@]}" dpkg -i build/package/packages/strata_*.deb >/dev/null
tail -1 /etc/strata/strata.toml | grep -q 'edited by the operator' || fail "a reinstall replaced the edited configuration"
"${sudo_cmd[@]}" dpkg --remove strata >/dev/null
[[ -f /etc/strata/strata.toml && ! -e /usr/bin/strata ]] || fail "remove: the configuration must stay, the binary go"

echo "== dpkg --purge leaves nothing behind"
"${sudo_cmd[@]}" dpkg --purge strata libstrata-dev
left=()
for path in /usr/bin/strata /etc/strata /lib/systemd/system/strata.service /usr/share/man/man1/strata.1.gz \
  /usr/share/doc/strata /usr/share/doc/libstrata-dev /usr/include/strata \
  /usr/lib/x86_64-linux-gnu/cmake/strata /usr/lib/x86_64-linux-gnu/pkgconfig/strata.pc \
  /etc/systemd/system/multi-user.target.wants/strata.service \
  /var/lib/systemd/deb-systemd-helper-enabled/strata.service.dsh-also \
  /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/strata.service \
  /var/lib/systemd/deb-systemd-helper-masked/strata.service; do
  [[ -e $path || -L $path ]] && left+=("$path")
done
compgen -G "/usr/lib/x86_64-linux-gnu/libstrata_*" >/dev/null && left+=(/usr/lib/x86_64-linux-gnu/libstrata_*)
((${#left[@]} == 0)) || fail "left after purge: ${left[*]}"
echo "package test: ok"
