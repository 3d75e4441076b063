#!/usr/bin/env bash
# Regenerates everything derived from proto/: the TypeScript stubs (ts-proto,
# through buf with the locally installed plugin) and the descriptor set that
# the server hands out through gRPC reflection. CI runs this and fails when the
# committed output differs.
set -euo pipefail
cd "$(dirname "$0")/.."
buf=node_modules/.bin/buf
"$buf" lint
"$buf" generate
# The descriptor set keeps every imported file (google/protobuf/timestamp.proto)
# so reflection clients such as grpcurl and buf curl can resolve every type.
"$buf" build -o src/gen/tinychat.binpb
