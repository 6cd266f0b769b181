#!/usr/bin/env bash
# Recompute the Merkle root of an osint-archive custody anchor with jq, xxd and sha256sum.
#   bash custody-anchor-root.sh anchors/<time>-<root prefix>.json   -> prints the root (hex)
# Tree (RFC 6962): leaf = SHA-256(0x00 || "<chain> <seq> <hash>"), leaves sorted by chain;
# node = SHA-256(0x01 || left || right), the left side holding the largest power of two
# below the number of leaves. Compare the output with the record's "root".
set -euo pipefail

leaf_hash() {  # text of one leaf -> hex hash
  { printf '\x00'; printf '%s' "$1"; } | sha256sum | cut -d' ' -f1
}

node_hash() {  # two hex hashes -> hex hash of the node above them
  { printf '\x01'; printf '%s%s' "$1" "$2" | xxd -r -p; } | sha256sum | cut -d' ' -f1
}

root_of() {  # hex leaf hashes as arguments -> hex root of their tree
  local count=$# split=1
  if [ "$count" -eq 1 ]; then echo "$1"; return; fi
  while [ $((split * 2)) -lt "$count" ]; do split=$((split * 2)); done
  node_hash "$(root_of "${@:1:split}")" "$(root_of "${@:split+1}")"
}

hashes=()
while IFS= read -r leaf; do
  hashes+=("$(leaf_hash "$leaf")")
done < <(jq -r '.heads | sort_by(.chain | explode) | .[] | "\(.chain) \(.seq) \(.hash)"' "$1")
root_of "${hashes[@]}"
