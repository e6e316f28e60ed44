package verify_test

import (
	"context"
	"testing"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// A pinned reference keeps the tag it was written with, so policies about
// tags still apply after the mutating webhook pins it.
func TestPinnedKeepsTag(t *testing.T) {
	host := verifytest.Registry(t)
	d := verifytest.PushImage(t, host+"/app/web:latest")
	v := newVerifier(t, nil)
	for image, want := range map[string]string{
		host + "/app/web:latest@" + d.String(): "latest",
		host + "/app/web@" + d.String():        "",
		host + "/app/web:latest":               "latest",
	} {
		r := v.Verify(context.Background(), verify.Request{Image: image})
		if r.Error != nil || r.Tag != want || r.Digest != d.String() {
			t.Errorf("%s: tag %q digest %s error %v, want tag %q", image, r.Tag, r.Digest, r.Error, want)
		}
	}
}
