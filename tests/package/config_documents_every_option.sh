#!/usr/bin/env bash
# The packaged /etc/strata/strata.toml documents every option the configuration reader accepts:
# each key read in src/gateway/config.cpp appears in it, set or commented out.
#
#   tests/package/config_documents_every_option.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
reader=$source_dir/src/gateway/config.cpp
config=$source_dir/packaging/strata.toml

keys=$(grep -oE '(read[a-z_]*|read_endpoint\((reader|top), |contains|get)\("[a-z_0-9]+"' "$reader" |
  grep -oE '"[a-z_0-9]+"' | tr -d '"' | sort -u)
[[ $(wc -w <<<"$keys") -gt 60 ]] || { echo "found only $(wc -w <<<"$keys") keys in $reader: the pattern is stale" >&2; exit 1; }
missing=()
for key in $keys; do
  # "key = ...", "# key = ...", or a rule field in the rules' own list ("#   key   text").
  grep -qE "^(#[[:space:]]*)?(\[\[)?$key(\]\])?[[:space:]]*(=|$)|^#[[:space:]]+([a-z_ /]+ )?$key( |$)" "$config" || missing+=("$key")
done
if ((${#missing[@]})); then
  echo "packaging/strata.toml does not document: ${missing[*]}" >&2
  exit 1
fi
echo "packaging/strata.toml documents all $(wc -w <<<"$keys") options"
