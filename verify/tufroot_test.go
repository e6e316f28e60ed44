package verify_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// A serialized TUF repository yields its trusted root only when its
// metadata verifies from the trust anchor and has not expired.
func TestTUFRepository(t *testing.T) {
	trustedRoot := []byte(verifytest.NewSigstore(t).TrustedRoot(t, verifytest.RootOptions{}))
	targets := map[string][]byte{verify.DefaultTUFTarget: trustedRoot, "other.json": []byte(`{}`)}
	repo := verifytest.NewTUFRepo(t, targets, time.Now().Add(24*time.Hour))
	stranger := verifytest.NewTUFRepo(t, targets, time.Now().Add(24*time.Hour))
	expired := verifytest.NewTUFRepo(t, targets, time.Now().Add(-time.Hour))
	tampered := verifytest.NewTUFRepo(t, targets, time.Now().Add(24*time.Hour))
	for name := range tampered.Files {
		if strings.HasSuffix(name, "."+verify.DefaultTUFTarget) {
			tampered.Files[name] = bytes.Replace(trustedRoot, []byte("rekor"), []byte("rekoR"), 1)
		}
	}
	tests := []struct {
		name    string
		r       verify.TUFRepository
		want    []byte
		wantErr string
	}{
		{name: "mirror archived from inside its directory", r: verify.TUFRepository{Root: repo.Root, Mirror: repo.TarGz(t, "./")}, want: trustedRoot},
		{name: "mirror archived with its directory", r: verify.TUFRepository{Root: repo.Root, Mirror: repo.TarGz(t, "repository/")}, want: trustedRoot},
		{name: "another target", r: verify.TUFRepository{Root: repo.Root, Mirror: repo.TarGz(t, ""), Target: "other.json"}, want: []byte(`{}`)},
		{name: "target not in the repository", r: verify.TUFRepository{Root: repo.Root, Mirror: repo.TarGz(t, ""), Target: "missing.json"}, wantErr: `target "missing.json"`},
		{name: "mirror signed by other keys", r: verify.TUFRepository{Root: repo.Root, Mirror: stranger.TarGz(t, "")}, wantErr: "does not verify against the root"},
		{name: "expired metadata", r: verify.TUFRepository{Root: expired.Root, Mirror: expired.TarGz(t, "")}, wantErr: "expired"},
		{name: "target changed after signing", r: verify.TUFRepository{Root: tampered.Root, Mirror: tampered.TarGz(t, "")}, wantErr: `target "trusted_root.json"`},
		{name: "no root", r: verify.TUFRepository{Mirror: repo.TarGz(t, "")}, wantErr: "root: give the initial root.json"},
		{name: "not an archive", r: verify.TUFRepository{Root: repo.Root, Mirror: []byte("\x1f\x8bnope")}, wantErr: "mirror: not a gzip archive"},
		{name: "archive without timestamp.json", r: verify.TUFRepository{Root: repo.Root, Mirror: (&verifytest.TUFRepo{Files: map[string][]byte{"x": nil}}).TarGz(t, "")}, wantErr: "no timestamp.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.r.TrustedRootJSON()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %.40q, %v; want %.40q", got, err, tc.want)
			}
		})
	}
}
