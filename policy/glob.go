package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// compileGlob turns a glob over canonical repository names into an anchored
// regular expression: "*" matches within one path segment, "**" across
// segments, "?" one character other than "/".
func compileGlob(glob string) (*regexp.Regexp, error) {
	if err := checkGlob(glob); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; {
		case c == '*' && i+1 < len(glob) && glob[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// checkGlob refuses globs that cannot match a canonical name the way the
// author meant: canonical names always start with a registry host, so a glob
// must too ("**" alone is allowed: it matches every image).
func checkGlob(glob string) error {
	if glob == "**" {
		return nil
	}
	host, path, found := strings.Cut(glob, "/")
	if strings.ContainsAny(host, "@ \t") || strings.ContainsAny(path, "@: \t") {
		return fmt.Errorf("glob %q: match repositories only, without tag or digest", glob)
	}
	if !found || !(strings.Contains(host, ".") || strings.Contains(host, ":") || host == "localhost" || strings.Contains(host, "*")) {
		return fmt.Errorf("glob %q: globs match canonical names, which begin with the registry host; write e.g. docker.io/library/nginx or docker.io/%s", glob, glob)
	}
	if host == "index.docker.io" || host == "registry-1.docker.io" {
		return fmt.Errorf("glob %q: Docker Hub images are named docker.io/..., write docker.io/%s", glob, strings.TrimPrefix(glob, host+"/"))
	}
	if glob != strings.ToLower(glob) {
		return fmt.Errorf("glob %q: canonical names are lowercase, so this glob could never match; write %s", glob, strings.ToLower(glob))
	}
	return nil
}
