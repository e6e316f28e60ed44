package policy

import (
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

func TestCompileDefaults(t *testing.T) {
	no, yes := false, true
	tests := []struct {
		name        string
		obj         func(v1alpha1.ImagePolicySpec) Object
		edit        func(*v1alpha1.ImagePolicySpec)
		wantID      string
		wantNS      string
		wantMode    v1alpha1.Mode
		wantRequire v1alpha1.Requirement
		wantPin     bool
	}{
		{
			name:   "cluster policy, everything defaulted",
			obj:    func(s v1alpha1.ImagePolicySpec) Object { return clusterPolicy("prod", s) },
			edit:   func(*v1alpha1.ImagePolicySpec) {},
			wantID: "ClusterImagePolicy/prod", wantMode: v1alpha1.ModeEnforce, wantRequire: v1alpha1.RequireAll, wantPin: true,
		},
		{
			name:   "namespaced policy, everything defaulted",
			obj:    func(s v1alpha1.ImagePolicySpec) Object { return namespacedPolicy("team-a", "web", s) },
			edit:   func(*v1alpha1.ImagePolicySpec) {},
			wantID: "ImagePolicy/team-a/web", wantNS: "team-a", wantMode: v1alpha1.ModeEnforce, wantRequire: v1alpha1.RequireAll, wantPin: true,
		},
		{
			name: "explicit values kept",
			obj:  func(s v1alpha1.ImagePolicySpec) Object { return clusterPolicy("prod", s) },
			edit: func(s *v1alpha1.ImagePolicySpec) {
				s.Mode, s.Require, s.PinDigest = v1alpha1.ModeWarn, v1alpha1.RequireAny, &no
			},
			wantID: "ClusterImagePolicy/prod", wantMode: v1alpha1.ModeWarn, wantRequire: v1alpha1.RequireAny, wantPin: false,
		},
		{
			name:   "audit mode, pinDigest explicitly true",
			obj:    func(s v1alpha1.ImagePolicySpec) Object { return clusterPolicy("prod", s) },
			edit:   func(s *v1alpha1.ImagePolicySpec) { s.Mode, s.PinDigest = v1alpha1.ModeAudit, &yes },
			wantID: "ClusterImagePolicy/prod", wantMode: v1alpha1.ModeAudit, wantRequire: v1alpha1.RequireAll, wantPin: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := validSpec(t, "docker.io/**")
			tt.edit(&spec)
			p := mustCompile(t, tt.obj(spec))
			if p.ID != tt.wantID || p.Namespace != tt.wantNS || p.Mode != tt.wantMode || p.Require != tt.wantRequire || p.Pin != tt.wantPin {
				t.Errorf("got ID %q ns %q mode %q require %q pin %v, want %q %q %q %q %v",
					p.ID, p.Namespace, p.Mode, p.Require, p.Pin, tt.wantID, tt.wantNS, tt.wantMode, tt.wantRequire, tt.wantPin)
			}
		})
	}
}

func TestCompileAuthorities(t *testing.T) {
	spec := v1alpha1.ImagePolicySpec{
		Images: globs("docker.io/**"),
		Authorities: []v1alpha1.Authority{
			keyAuthority("ci", newKeyPEM(t)),
			{Name: "release", Key: &v1alpha1.KeyAuthority{Data: newKeyPEM(t), HashAlgorithm: "sha384"}},
			{Name: "legacy", Key: &v1alpha1.KeyAuthority{Data: newKeyPEM(t), HashAlgorithm: "sha512"}},
		},
	}
	p := mustCompile(t, namespacedPolicy("team-a", "web", spec))
	wantIDs := []string{"ImagePolicy/team-a/web/ci", "ImagePolicy/team-a/web/release", "ImagePolicy/team-a/web/legacy"}
	if len(p.Authorities) != len(wantIDs) {
		t.Fatalf("got %d authorities, want %d", len(p.Authorities), len(wantIDs))
	}
	for i, a := range p.Authorities {
		if a.ID != wantIDs[i] {
			t.Errorf("authority %d: ID %q, want %q", i, a.ID, wantIDs[i])
		}
		if a.Key == nil || !strings.HasPrefix(a.Key.ID, "sha256:") {
			t.Errorf("authority %d: key %+v, want a parsed key with a sha256 ID", i, a.Key)
		}
		if got, want := p.AuthorityName(a.ID), spec.Authorities[i].Name; got != want {
			t.Errorf("AuthorityName(%q) = %q, want %q", a.ID, got, want)
		}
	}
	if p.Authorities[0].Key.ID == p.Authorities[1].Key.ID {
		t.Errorf("different keys got the same key ID %s", p.Authorities[0].Key.ID)
	}
	if got := p.AuthorityName("ImagePolicy/team-a/other/ci"); got != "" {
		t.Errorf("AuthorityName of another policy's authority = %q, want empty", got)
	}
}

func TestCompileMatches(t *testing.T) {
	p := mustCompile(t, clusterPolicy("p", validSpec(t, "registry.example.com/team/*", "docker.io/library/nginx")))
	tests := []struct {
		name string
		repo string
		want bool
	}{
		{"first glob", "registry.example.com/team/web", true},
		{"second glob", "docker.io/library/nginx", true},
		{"neither glob", "docker.io/library/redis", false},
		{"first glob does not cross segments", "registry.example.com/team/web/sub", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Matches(tt.repo); got != tt.want {
				t.Errorf("Matches(%q) = %v, want %v", tt.repo, got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	pem := newKeyPEM(t)
	tests := []struct {
		name string
		obj  func(Object) Object
		want []string // every error must name the object and the field to fix
	}{
		{"bad mode", func(o Object) Object { o.Spec.Mode = "block"; return o }, []string{`spec.mode "block"`, "enforce, warn or audit"}},
		{"bad require", func(o Object) Object { o.Spec.Require = "most"; return o }, []string{`spec.require "most"`, "all or any"}},
		{"no images", func(o Object) Object { o.Spec.Images = nil; return o }, []string{"spec.images", "at least one glob"}},
		{"bad glob", func(o Object) Object { o.Spec.Images = globs("docker.io/**", "nginx"); return o }, []string{"spec.images[1]", `"nginx"`, "docker.io/nginx"}},
		{"glob with a tag", func(o Object) Object { o.Spec.Images = globs("docker.io/library/nginx:1.25"); return o }, []string{"spec.images[0]", "without tag or digest"}},
		{"no authorities", func(o Object) Object { o.Spec.Authorities = nil; return o }, []string{"spec.authorities", "at least one authority"}},
		{"duplicate authority name", func(o Object) Object {
			o.Spec.Authorities = append(o.Spec.Authorities, keyAuthority("ci", pem))
			return o
		}, []string{"spec.authorities[1] (ci)", "used twice"}},
		{"uppercase authority name", func(o Object) Object { o.Spec.Authorities[0].Name = "CI"; return o }, []string{"spec.authorities[0] (CI)", "DNS label"}},
		{"empty authority name", func(o Object) Object { o.Spec.Authorities[0].Name = ""; return o }, []string{"spec.authorities[0] ()", "DNS label"}},
		{"authority name starting with a dash", func(o Object) Object { o.Spec.Authorities[0].Name = "-ci"; return o }, []string{"spec.authorities[0] (-ci)", "DNS label"}},
		{"authority name with a slash", func(o Object) Object { o.Spec.Authorities[0].Name = "team/ci"; return o }, []string{"spec.authorities[0] (team/ci)", "DNS label"}},
		{"authority name over 63 characters", func(o Object) Object { o.Spec.Authorities[0].Name = strings.Repeat("a", 64); return o }, []string{"spec.authorities[0]", "DNS label"}},
		{"missing key", func(o Object) Object { o.Spec.Authorities[0].Key = nil; return o }, []string{"spec.authorities[0] (ci)", "key.data"}},
		{"empty key data", func(o Object) Object { o.Spec.Authorities[0].Key.Data = ""; return o }, []string{"spec.authorities[0] (ci): key:", "PUBLIC KEY"}},
		{"bad PEM", func(o Object) Object {
			o.Spec.Authorities[0].Key.Data = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n"
			return o
		}, []string{"spec.authorities[0] (ci): key:", "public key"}},
		{"bad hashAlgorithm", func(o Object) Object { o.Spec.Authorities[0].Key.HashAlgorithm = "md5"; return o }, []string{"spec.authorities[0] (ci): key:", `hashAlgorithm "md5"`, "sha256, sha384 or sha512"}},
		{"ImagePolicy without namespace", func(o Object) Object { o.Kind = v1alpha1.KindImagePolicy; return o }, []string{"metadata.namespace is required"}},
		{"ClusterImagePolicy with namespace", func(o Object) Object { o.Namespace = "team-a"; return o }, []string{"cluster-scoped", "remove metadata.namespace"}},
		{"missing name", func(o Object) Object { o.Name = ""; return o }, []string{"metadata.name is required"}},
		{"unknown kind", func(o Object) Object { o.Kind = "Pod"; return o }, []string{`kind "Pod"`, "ClusterImagePolicy or ImagePolicy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.obj(clusterPolicy("prod", v1alpha1.ImagePolicySpec{Images: globs("docker.io/**"), Authorities: []v1alpha1.Authority{keyAuthority("ci", pem)}}))
			p, err := Compile(o)
			if p != nil {
				t.Errorf("Compile returned a policy along with the error")
			}
			wantErrContaining(t, err, append([]string{o.ID() + ": "}, tt.want...)...)
		})
	}
}

func TestCompileReportsEveryError(t *testing.T) {
	pem := newKeyPEM(t)
	tests := []struct {
		name string
		obj  Object
		want []string
	}{
		{
			name: "spec errors together",
			obj: clusterPolicy("prod", v1alpha1.ImagePolicySpec{
				Mode: "block", Require: "most",
				Images: globs("nginx", "docker.io/library/redis:7"),
				Authorities: []v1alpha1.Authority{
					keyAuthority("ci", pem),
					keyAuthority("ci", pem),
					{Name: "release"},
					{Name: "legacy", Key: &v1alpha1.KeyAuthority{Data: pem, HashAlgorithm: "md5"}},
				},
			}),
			want: []string{"spec.mode", "spec.require", "spec.images[0]", "spec.images[1]", "spec.authorities[1] (ci)", "spec.authorities[2] (release)", "spec.authorities[3] (legacy)"},
		},
		{
			name: "metadata and empty lists together",
			obj:  namespacedPolicy("", "web", v1alpha1.ImagePolicySpec{}),
			want: []string{"metadata.namespace", "spec.images", "spec.authorities"},
		},
		{
			// The duplicate must be reported even though the first authority
			// of that name is itself refused.
			name: "duplicate of a refused authority",
			obj: clusterPolicy("prod", v1alpha1.ImagePolicySpec{
				Images:      globs("**"),
				Authorities: []v1alpha1.Authority{{Name: "ci"}, keyAuthority("ci", pem)},
			}),
			want: []string{"spec.authorities[0] (ci): name a key", "spec.authorities[1] (ci): name is used twice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.obj)
			wantErrContaining(t, err, tt.want...)
		})
	}
}
