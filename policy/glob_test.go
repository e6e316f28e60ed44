package policy

import (
	"testing"
)

func TestGlobMatching(t *testing.T) {
	tests := []struct {
		name string
		glob string
		repo string
		want bool
	}{
		{"exact name matches itself", "docker.io/library/nginx", "docker.io/library/nginx", true},
		{"exact name is not a prefix", "docker.io/library/nginx", "docker.io/library/nginx-extra", false},
		{"exact name does not match a sub-path", "docker.io/library/nginx", "docker.io/library/nginx/sub", false},
		{"exact name is anchored at the start", "docker.io/library/nginx", "evil.com/docker.io/library/nginx", false},
		{"star matches one segment", "docker.io/library/*", "docker.io/library/nginx", true},
		{"star does not cross a slash", "docker.io/library/*", "docker.io/library/nginx/sub", false},
		{"star inside a segment", "registry.example.com/team/app-*", "registry.example.com/team/app-web", true},
		{"star inside a segment does not cross a slash", "registry.example.com/team/app-*", "registry.example.com/team/app-web/x", false},
		{"star in the host", "*.example.com/app", "registry.example.com/app", true},
		{"star in the host needs the literal dot", "*.example.com/app", "example.com/app", false},
		{"double star crosses segments", "registry.example.com/team/**", "registry.example.com/team/a/b/c", true},
		{"double star matches one segment", "registry.example.com/team/**", "registry.example.com/team/app", true},
		{"double star keeps the literal prefix", "registry.example.com/team/**", "registry.example.com/teamx/app", false},
		{"double star needs the slash before it", "registry.example.com/team/**", "registry.example.com/team", false},
		{"docker.io/** matches Docker Hub", "docker.io/**", "docker.io/library/nginx", true},
		{"docker.io/** does not match a look-alike host", "docker.io/**", "docker.io.evil.com/x", false},
		{"docker.io/** does not match a look-alike host with path", "docker.io/**", "docker.io.evil.com/library/nginx", false},
		{"docker.io/** does not match a host suffix", "docker.io/**", "evildocker.io/x", false},
		{"question mark matches one character", "registry.example.com/app?", "registry.example.com/app1", true},
		{"question mark needs a character", "registry.example.com/app?", "registry.example.com/app", false},
		{"question mark matches only one character", "registry.example.com/app?", "registry.example.com/app12", false},
		{"question mark does not match a slash", "registry.example.com/a?b", "registry.example.com/a/b", false},
		{"dot is literal", "registry.example.com/app", "registryXexample.com/app", false},
		{"plus is literal", "registry.example.com/a+b", "registry.example.com/a+b", true},
		{"plus is not a repetition", "registry.example.com/a+b", "registry.example.com/aab", false},
		{"double star alone matches Docker Hub", "**", "docker.io/library/nginx", true},
		{"double star alone matches a registry with a port", "**", "localhost:5000/app/web", true},
		{"host with port and star", "localhost:5000/app/*", "localhost:5000/app/web", true},
		{"host with port does not match another port", "localhost:5000/app/*", "localhost:5001/app/web", false},
		{"host with port and star stays in the segment", "localhost:5000/app/*", "localhost:5000/app/web/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re, err := compileGlob(tt.glob)
			if err != nil {
				t.Fatalf("compileGlob(%q): %v", tt.glob, err)
			}
			if got := re.MatchString(tt.repo); got != tt.want {
				t.Errorf("glob %q (regexp %s) on %q = %v, want %v", tt.glob, re, tt.repo, got, tt.want)
			}
		})
	}
}

func TestGlobCanonicalNames(t *testing.T) {
	tests := []struct {
		name    string
		glob    string
		wantErr []string // substrings; nil means the glob is allowed
	}{
		{"double star alone", "**", nil},
		{"Docker Hub canonical", "docker.io/library/nginx", nil},
		{"registry with a port", "localhost:5000/app/*", nil},
		{"registry with a port, double star", "registry.example.com:443/team/**", nil},
		{"localhost without port", "localhost/app", nil},
		{"IPv6 host with port", "[::1]:5000/app", nil},
		{"wildcard host", "*/library/nginx", nil},
		{"short name", "nginx", []string{"begin with the registry host", "docker.io/nginx"}},
		{"Docker Hub name without host", "library/nginx", []string{"begin with the registry host", "docker.io/library/nginx"}},
		{"organisation glob without host", "myorg/*", []string{"docker.io/myorg/*"}},
		{"empty glob", "", []string{"begin with the registry host"}},
		{"host with port but no path", "localhost:5000", []string{"begin with the registry host"}},
		{"index.docker.io", "index.docker.io/library/nginx", []string{"Docker Hub", "write docker.io/library/nginx"}},
		{"index.docker.io double star", "index.docker.io/**", []string{"write docker.io/**"}},
		{"registry-1.docker.io", "registry-1.docker.io/library/nginx", []string{"Docker Hub", "write docker.io/library/nginx"}},
		{"uppercase can never match", "registry.example.com/Team/app", []string{"lowercase", "write registry.example.com/team/app"}},
		{"tag", "docker.io/library/nginx:1.25", []string{"without tag or digest"}},
		{"digest", "docker.io/library/nginx@sha256:0123456789abcdef", []string{"without tag or digest"}},
		{"tag after a host with a port", "localhost:5000/app:v1", []string{"without tag or digest"}},
		{"digest after a host with a port", "localhost:5000/app@sha256:0123", []string{"without tag or digest"}},
		{"space", "registry.example.com/app v1", []string{"without tag or digest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileGlob(tt.glob)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("compileGlob(%q): %v, want it allowed", tt.glob, err)
				}
				return
			}
			wantErrContaining(t, err, append([]string{tt.glob}, tt.wantErr...)...)
		})
	}
}
