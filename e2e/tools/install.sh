#!/usr/bin/env bash
# Installs what the e2e tests and the demo run, on a fresh Debian/Ubuntu
# machine with Go, gcc, git and apt; fast and idempotent on reruns.
#
#   apt:   etcd-server, docker-registry, iproute2 (only when missing)
#   build: kube-apiserver (e2e/tools/kube), cosign v2 (e2e/tools/cosign),
#          cosign3 (e2e/tools/cosign3), zot (e2e/tools/zot), notation
#          (e2e/tools/notation) and syft (e2e/tools/syft)
#          into ${GATEHOUSE_TOOLS:-<repo>/.cache/bin}; a build is skipped
#          while <bin>.stamp holds the sha256 of the tool module's
#          go.mod+go.sum (and extra build flags, if any) that built it
#   links: etcd and docker-registry from PATH into the same directory, where
#          e2e/env.FindTools looks first
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${GATEHOUSE_TOOLS:-$ROOT/.cache/bin}
mkdir -p "$TOOLS"

SUDO=""
[[ $(id -u) == 0 ]] || SUDO=sudo

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { local ms=$(($(now_ms) - $1)); printf '%d.%01ds' $((ms / 1000)) $((ms % 1000 / 100)); }

# Serialise concurrent runs (parallel CI jobs sharing a cache).
if command -v flock >/dev/null; then
	exec 9>"$TOOLS/.install.lock"
	flock 9
fi

install_apt() {
	local need=()
	command -v etcd >/dev/null || need+=(etcd-server)
	command -v docker-registry >/dev/null || need+=(docker-registry)
	command -v ip >/dev/null || need+=(iproute2)
	if ((${#need[@]} == 0)); then
		echo "apt: etcd-server docker-registry iproute2 present"
		return
	fi
	local t0
	t0=$(now_ms)
	# Keep the packages' services from starting (the tests run their own
	# instances on free ports), unless the machine already has a policy.
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod 755 /usr/sbin/policy-rc.d
		trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	echo "apt: installed ${need[*]} in $(secs "$t0")"
}

# build_tool NAME MODULE_DIR PACKAGE [GO_BUILD_FLAGS...]
build_tool() {
	local name=$1 dir=$ROOT/$2 pkg=$3
	shift 3
	local out=$TOOLS/$name t0 sum cpu
	t0=$(now_ms)
	# Flags join the stamp only when given, so tools built without any
	# keep the stamps they have.
	sum=$({ cat "$dir/go.mod" "$dir/go.sum"; (($# == 0)) || echo "flags: $*"; } | sha256sum | cut -d' ' -f1)
	if [[ -x $out && -f $out.stamp && $(<"$out.stamp") == "$sum" ]]; then
		echo "$name: cached ($(secs "$t0")) $out"
		return
	fi
	# time reports the CPU seconds of the build (go and its compilers) into
	# $out.cpu; the build's own messages still go to stderr (fd 4).
	{
		local TIMEFORMAT='%U %S'
		time (cd "$dir" && GOFLAGS=-mod=readonly go build -trimpath "$@" -o "$out.tmp" "$pkg" 2>&4)
	} 4>&2 2>"$out.cpu"
	cpu=$(awk '{ printf "%.1fs", $1 + $2 }' "$out.cpu")
	rm -f "$out.cpu"
	mv -f "$out.tmp" "$out"
	echo "$sum" >"$out.stamp"
	echo "$name: built in $(secs "$t0") (CPU $cpu) $out"
}

link_tool() {
	local name=$1 path
	path=$(command -v "$name" || true)
	[[ -n $path || ! -x /usr/bin/$name ]] || path=/usr/bin/$name
	[[ -n $path ]] || { echo "$name: not found in PATH" >&2; return 1; }
	[[ $path == "$TOOLS/$name" ]] || ln -sfn "$path" "$TOOLS/$name"
	echo "$name: linked $TOOLS/$name -> $path"
}

command -v go >/dev/null || { echo "install.sh: go is not in PATH" >&2; exit 1; }
install_apt
link_tool etcd
link_tool docker-registry
build_tool kube-apiserver e2e/tools/kube k8s.io/kubernetes/cmd/kube-apiserver
build_tool cosign e2e/tools/cosign github.com/sigstore/cosign/v2/cmd/cosign
build_tool cosign3 e2e/tools/cosign3 github.com/sigstore/cosign/v3/cmd/cosign
# zot's minimal build: no extension tags (search, sync, scrub, metrics, lint,
# which bring trivy and friends), still the full dist-spec API with
# /v2/<name>/referrers/<digest>. containers_image_openpgp avoids gpgme (cgo).
# ReleaseTag only labels the binary: keep it in step with e2e/tools/zot/go.mod.
build_tool zot e2e/tools/zot zotregistry.io/zot/cmd/zot -tags containers_image_openpgp \
	-ldflags "-X zotregistry.io/zot/pkg/api/config.ReleaseTag=v1.4.3 -X zotregistry.io/zot/pkg/api/config.BinaryType=minimal"
# notation v1.3.2, the CLI that makes Notary Project signatures (JWS or COSE
# envelopes, pushed as OCI 1.1 referrers or with the tag schema fallback).
# Empty BuildMetadata makes `notation version` say v1.3.2, as a release
# build does, rather than v1.3.2+unreleased.
build_tool notation e2e/tools/notation github.com/notaryproject/notation/cmd/notation \
	-ldflags "-X github.com/notaryproject/notation/internal/version.BuildMetadata="
# syft v1.52.0 makes the SBOMs the e2e tests attest with cosign.
build_tool syft e2e/tools/syft github.com/anchore/syft/cmd/syft
