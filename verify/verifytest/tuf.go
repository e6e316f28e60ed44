package verifytest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TUFRepo is a TUF repository made with go-tuf, one key for every role,
// consistent snapshots on, as Sigstore's repository is laid out.
type TUFRepo struct {
	// Root is the version 1 root.json: the trust anchor.
	Root []byte
	// Files are the repository's files by path (1.root.json,
	// timestamp.json, 1.snapshot.json, 1.targets.json,
	// targets/<sha256>.<name>).
	Files map[string][]byte
}

// NewTUFRepo signs targets into a repository whose metadata expires at
// expires.
func NewTUFRepo(t testing.TB, targets map[string][]byte, expires time.Time) *TUFRepo {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.LoadED25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	key, err := metadata.KeyFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tg := metadata.Targets(expires)
	for name, data := range targets {
		tf, err := metadata.TargetFile().FromBytes(name, data, "sha256")
		if err != nil {
			t.Fatal(err)
		}
		tg.Signed.Targets[name] = tf
		files["targets/"+tf.Hashes["sha256"].String()+"."+name] = data
	}
	sn := metadata.Snapshot(expires)
	sn.Signed.Meta["targets.json"] = metadata.MetaFile(tg.Signed.Version)
	ts := metadata.Timestamp(expires)
	ts.Signed.Meta["snapshot.json"] = metadata.MetaFile(sn.Signed.Version)
	root := metadata.Root(expires)
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := root.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(name string, md interface {
		Sign(signature.Signer) (*metadata.Signature, error)
		ToBytes(bool) ([]byte, error)
	}) {
		if _, err := md.Sign(signer); err != nil {
			t.Fatal(err)
		}
		b, err := md.ToBytes(false)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	sign("1.root.json", root)
	sign("1.targets.json", tg)
	sign("1.snapshot.json", sn)
	sign("timestamp.json", ts)
	return &TUFRepo{Root: files["1.root.json"], Files: files}
}

// TarGz archives the repository's files under dir ("" or e.g. "repo/").
func (r *TUFRepo) TarGz(t testing.TB, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, data := range r.Files {
		if err := tw.WriteHeader(&tar.Header{Name: dir + name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
