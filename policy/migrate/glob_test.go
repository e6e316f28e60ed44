package migrate

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	pcglob "github.com/sigstore/policy-controller/pkg/apis/glob"
	pcv1beta1 "github.com/sigstore/policy-controller/pkg/apis/policy/v1beta1"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
)

const digest = "@sha256:5504f2a95018e3d8a52d80d9e1a128c6ea337581808ff9fe96f5628ce2336350"

// probes are image references as pods name them, each matched two ways
// below: by policy-controller's own glob code against the full name its
// webhook passes, and by gatehouse against the canonical repository.
var probes = []string{
	"nginx:1.27", "nginx" + digest, "example-org/app:v1", "example-org/app" + digest,
	"index.docker.io/example-org/tool:latest", "docker.io/library/busybox:1",
	"registry.example.com/prod/app:v1", "registry.example.com/prod/app" + digest,
	"registry.example.com/prod/team/app:v2", "registry.example.com/prod/app-dev:1",
	"registry.example.com/prod/app:1.0-dev", "registry.example.com/prodx/app:v1",
	"registry.example.com/apps/web:v1", "localhost:5000/app/web:v1",
	"mirror.example.com/example-org/app:v1", "index.example.com/team/app:v1",
	"dev.example.com/x:v1", "docs.example.org/a/b" + digest,
}

func TestConvertGlob(t *testing.T) {
	for _, tc := range []struct {
		name  string
		glob  string
		want  []string
		kind  Kind
		probe string // for Changed: a reference the two match differently
	}{
		{name: "star is docker official images", glob: "*", want: []string{"docker.io/library/*"}, kind: Mapped},
		{name: "star slash star is docker hub", glob: "*/*", want: []string{"docker.io/*/*"}, kind: Mapped},
		{name: "double star is everything", glob: "**", want: []string{"**"}, kind: Mapped},
		{name: "registry subtree", glob: "registry.example.com/prod/**", want: []string{"registry.example.com/prod/**"}, kind: Mapped},
		{name: "one segment below", glob: "registry.example.com/prod/*", want: []string{"registry.example.com/prod/*"}, kind: Mapped},
		{name: "name prefix", glob: "registry.example.com/prod/app*", want: []string{"registry.example.com/prod/app*"}, kind: Mapped},
		{name: "index.docker.io becomes docker.io", glob: "index.docker.io/example-org/*", want: []string{"docker.io/example-org/*"}, kind: Mapped},
		{name: "port is not a tag", glob: "localhost:5000/app/*", want: []string{"localhost:5000/app/*"}, kind: Mapped},
		{name: "wildcard host without docker hub", glob: "*.example.com/**", want: []string{"*.example.com/**"}, kind: Mapped},
		{name: "wildcard host matching index.docker.io gains docker.io", glob: "index.*/**", want: []string{"index.*/**", "docker.io/**"}, kind: Mapped},
		{name: "any host", glob: "*/**", want: []string{"*/**"}, kind: Mapped},
		{name: "any prefix", glob: "**/app*", want: []string{"**/app*"}, kind: Mapped},
		{name: "host prefix without slash", glob: "registry.example.**", want: []string{"registry.example.*/**"}, kind: Mapped},
		{name: "host prefix of index.docker.io", glob: "inde**", want: []string{"inde*/**", "docker.io/**"}, kind: Mapped},
		{name: "exact repository never matched", glob: "registry.example.com/prod/app", want: []string{"registry.example.com/prod/app"}, kind: Changed, probe: "registry.example.com/prod/app:v1"},
		{name: "tag constraint widened", glob: "registry.example.com/prod/app:v*", want: []string{"registry.example.com/prod/app"}, kind: Changed, probe: "registry.example.com/prod/app" + digest},
		{name: "digest constraint widened", glob: "registry.example.com/prod/app@sha256:*", want: []string{"registry.example.com/prod/app"}, kind: Changed, probe: "registry.example.com/prod/app:v1"},
		{name: "wildcard reaching into the tag", glob: "registry.example.com/prod/*-dev*", want: []string{"registry.example.com/prod/*-dev*"}, kind: Changed, probe: "registry.example.com/prod/app:1.0-dev"},
		{name: "docker.io never matched", glob: "docker.io/library/*", want: []string{"docker.io/library/*"}, kind: Changed, probe: "nginx:1.27"},
		{name: "registry-1.docker.io never matched", glob: "registry-1.docker.io/example-org/*", want: []string{"docker.io/example-org/*"}, kind: Changed, probe: "example-org/app:v1"},
		{name: "namespace without registry never matched", glob: "example-org/*", want: []string{"docker.io/example-org/*"}, kind: Changed, probe: "example-org/app:v1"},
		{name: "short name never matched", glob: "nginx*", want: []string{"docker.io/library/nginx*"}, kind: Changed, probe: "nginx:1.27"},
		{name: "wildcard host matching docker.io only", glob: "d*/**", want: []string{"d*/**"}, kind: Changed, probe: "nginx:1.27"},
		{name: "double star inside the host", glob: "**.example.com/**", want: []string{"**.example.com/**"}, kind: Changed},
		{name: "double star inside a host-less glob", glob: "registry**x", kind: Dropped},
		{name: "upper case", glob: "registry.example.com/Prod/**", kind: Dropped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := pcv1beta1.ValidateGlob(tc.glob); err != nil {
				t.Fatalf("policy-controller refuses the glob: %v", err)
			}
			got := convertGlob(tc.glob)
			if got.kind != tc.kind || !slices.Equal(got.globs, tc.want) {
				t.Fatalf("convertGlob(%q) = %v %q (%s), want %v %q", tc.glob, got.kind, got.globs, strings.Join(got.why, "; "), tc.kind, tc.want)
			}
			if tc.kind == Dropped {
				return
			}
			p := compileGlobs(t, got.globs)
			for _, ref := range probes {
				was, now := matchBoth(t, p, tc.glob, ref)
				if tc.kind == Mapped && was != now {
					t.Errorf("%s: policy-controller matches %t, gatehouse %t, yet the glob is reported as mapped exactly", ref, was, now)
				}
			}
			if tc.probe != "" {
				if was, now := matchBoth(t, p, tc.glob, tc.probe); was == now {
					t.Errorf("%s: both match %t, yet the glob is reported as changed", tc.probe, was)
				}
			}
		})
	}
}

// compileGlobs compiles the globs through gatehouse's own policy loader.
func compileGlobs(t *testing.T, globs []string) *policy.Policy {
	t.Helper()
	spec := v1alpha1.ImagePolicySpec{Authorities: []v1alpha1.Authority{{Name: "k", Key: &v1alpha1.KeyAuthority{Data: testKey}}}}
	for _, g := range globs {
		spec.Images = append(spec.Images, v1alpha1.ImageGlob{Glob: g})
	}
	p, err := policy.Compile(policy.Object{Kind: v1alpha1.KindClusterImagePolicy, Name: "globs", Spec: spec})
	if err != nil {
		t.Fatalf("gatehouse refuses %q: %v", globs, err)
	}
	return p
}

// matchBoth matches ref as policy-controller's webhook does (glob.Match on
// the reference's full name) and as gatehouse does.
func matchBoth(t *testing.T, p *policy.Policy, glob, ref string) (policyController, gatehouse bool) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	was, err := pcglob.Match(glob, r.Name())
	if err != nil {
		t.Fatal(err)
	}
	return was, p.Matches(verify.CanonicalRepository(r.Context()))
}
