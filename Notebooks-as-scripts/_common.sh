# Shared by the notebook scripts: build once, then use the release binary.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
swift build -c release --product biasprobe >&2
BP="$ROOT/.build/release/biasprobe"
