#!/usr/bin/env bash
# Remakes syft.cdx.json and syft.spdx.json with the syft that make tools
# builds (e2e/tools/syft), from the npm lock file in syft-src.
set -euo pipefail
cd "$(dirname "$0")"
syft=${GATEHOUSE_TOOLS:-../../../.cache/bin}/syft
SYFT_CHECK_FOR_APP_UPDATE=false "$syft" scan dir:syft-src --source-name api --source-version 1.4.0 \
	-o cyclonedx-json=syft.cdx.json -o spdx-json=syft.spdx.json
