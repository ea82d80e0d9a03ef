# Shared by the notebook scripts: build once, then use the release binary.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# BP=/path/to/biasprobe runs a given binary (e.g. a copy, while the tree is being rebuilt).
if [ -z "${BP:-}" ]; then
    swift build -c release --product biasprobe >&2
    BP="$ROOT/.build/release/biasprobe"
fi
