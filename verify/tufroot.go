package verify

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Limits on a serialized TUF repository: what a ConfigMap can hold, with
// room to spare; a decompression bomb stops at MaxTUFBytes.
const (
	MaxTUFBytes = 32 << 20
	MaxTUFFiles = 4096
)

// DefaultTUFTarget is the target a TUF repository is read for: the
// trusted root Sigstore distributes through TUF.
const DefaultTUFTarget = "trusted_root.json"

// TUFRepository is a serialized TUF repository, as `tar -czf` makes of a
// mirror's directory (root.json versions, timestamp, snapshot, targets
// metadata and the targets/ directory), and the root.json trusted to
// start from.
type TUFRepository struct {
	// Root is the initial root.json: the trust anchor. Newer root versions
	// in the mirror are accepted only when this one's keys sign them.
	Root []byte
	// Mirror is the repository as a tar archive, gzip-compressed or not.
	Mirror []byte
	// Target names the trusted root among the targets (default
	// DefaultTUFTarget).
	Target string
}

// tufBaseURL is where the updater believes the repository is; the fetcher
// serves every file from the mirror instead, so nothing leaves the process.
const tufBaseURL = "https://tuf.gatehouse.invalid"

// TrustedRootJSON verifies the mirror with TUF, offline: the root chain
// from Root, then timestamp, snapshot and targets metadata, their
// signatures, versions and expiry (now), and the target's length and
// hashes. It returns the target: a trusted_root.json.
func (r TUFRepository) TrustedRootJSON() ([]byte, error) {
	if len(r.Root) == 0 {
		return nil, errors.New("root: give the initial root.json of the repository (its trust anchor)")
	}
	files, err := untar(r.Mirror)
	if err != nil {
		return nil, fmt.Errorf("mirror: %w", err)
	}
	target := r.Target
	if target == "" {
		target = DefaultTUFTarget
	}
	client, err := tuf.New(&tuf.Options{
		Root:              r.Root,
		RepositoryBaseURL: tufBaseURL,
		DisableLocalCache: true,
		Fetcher:           mirrorFetcher(files),
	})
	if err != nil {
		return nil, fmt.Errorf("the mirror does not verify against the root (expired metadata means the mirror must be refreshed): %w", err)
	}
	data, err := client.GetTarget(target)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", target, err)
	}
	return data, nil
}

// untar reads a tar or tar.gz archive into memory by path, relative to the
// directory that holds timestamp.json (so "repo/..." and "./..." archives
// both work).
func untar(archive []byte) (map[string][]byte, error) {
	var rd io.Reader = bytes.NewReader(archive)
	if bytes.HasPrefix(archive, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(rd)
		if err != nil {
			return nil, fmt.Errorf("not a gzip archive: %v", err)
		}
		rd = gz
	}
	rd = io.LimitReader(rd, MaxTUFBytes+1)
	tr := tar.NewReader(rd)
	files := map[string][]byte{}
	total := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if len(files) == MaxTUFFiles {
			return nil, fmt.Errorf("more than %d files", MaxTUFFiles)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %v", h.Name, err)
		}
		if total += len(data); total > MaxTUFBytes {
			return nil, fmt.Errorf("more than %d bytes uncompressed", MaxTUFBytes)
		}
		files[strings.TrimPrefix(path.Clean("/"+h.Name), "/")] = data
	}
	dir := ""
	found := false
	for name := range files {
		if path.Base(name) == "timestamp.json" && (!found || len(name) < len(dir)+len("timestamp.json")) {
			dir, found = strings.TrimSuffix(name, "timestamp.json"), true
		}
	}
	if !found {
		return nil, errors.New("no timestamp.json: archive the repository directory (tar -C repository -czf mirror.tar.gz .)")
	}
	out := make(map[string][]byte, len(files))
	for name, data := range files {
		if rel, ok := strings.CutPrefix(name, dir); ok {
			out[rel] = data
		}
	}
	return out, nil
}

// mirrorFetcher serves the TUF updater's downloads from memory. A missing
// file is a 404, which is how the updater learns there is no newer root.
type mirrorFetcher map[string][]byte

func (m mirrorFetcher) DownloadFile(urlPath string, maxLength int64, _ time.Duration) ([]byte, error) {
	name := strings.TrimPrefix(strings.TrimPrefix(urlPath, tufBaseURL), "/")
	data, ok := m[name]
	if !ok {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: 404, URL: urlPath}
	}
	if int64(len(data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is %d bytes, more than the %d expected", name, len(data), maxLength)}
	}
	return data, nil
}
