package migrate

import (
	"regexp"
	"strings"
)

// policy-controller's admission webhook matches a glob (pkg/apis/glob)
// against the full name of the reference, the tag or digest included:
// "index.docker.io/library/nginx@sha256:..." once its mutating webhook has
// resolved the tag. The deprecated fallback of glob.Match, which also tries
// the reference as written, never runs there: the webhook passes the full
// name. Gatehouse matches the canonical repository name only
// ("docker.io/library/nginx"). Docker Hub is index.docker.io there,
// docker.io here.

// globResult is what one policy-controller glob becomes.
type globResult struct {
	globs []string // gatehouse globs; none when the glob is dropped
	kind  Kind     // Mapped, Changed or Dropped
	why   []string // what changed, for the report
}

func (g *globResult) change(why string) {
	g.kind = max(g.kind, Changed)
	g.why = append(g.why, why)
}

// convertGlob translates one policy-controller glob, already validated by
// policy-controller's own rules.
func convertGlob(glob string) globResult {
	switch glob {
	case "*": // policy-controller's own rewrite
		return globResult{globs: []string{"docker.io/library/*"}, kind: Mapped, why: []string{`policy-controller reads "*" as index.docker.io/library/*`}}
	case "*/*":
		return globResult{globs: []string{"docker.io/*/*"}, kind: Mapped, why: []string{`policy-controller reads "*/*" as index.docker.io/*/*`}}
	}
	r := globResult{kind: Mapped}
	repo, constraint := splitTagOrDigest(glob)
	if constraint != "" {
		r.change("the glob also constrained the tag or digest (" + constraint + "); gatehouse matches repositories, so the policy now covers every tag and digest of them (stricter)")
	} else {
		r.checkTail(repo)
	}
	if repo != strings.ToLower(repo) {
		return globResult{kind: Dropped, why: []string{"upper-case letters: gatehouse matches canonical names, which are lower case, and refuses such globs"}}
	}
	r.translateHost(repo)
	return r
}

// splitTagOrDigest cuts the tag or digest part off a glob: from "@", or from
// a ":" after the registry host.
func splitTagOrDigest(glob string) (repo, constraint string) {
	if i := strings.Index(glob, "@"); i >= 0 {
		glob, constraint = glob[:i], glob[i:]
	}
	start := 0
	if i := strings.Index(glob, "/"); i >= 0 {
		start = i + 1 // a ":" in the host is a port
	}
	if i := strings.Index(glob[start:], ":"); i >= 0 {
		return glob[:start+i], glob[start+i:] + constraint
	}
	return glob, constraint
}

// checkTail compares how the end of the glob meets the tag or digest that
// policy-controller matches along with the repository.
func (r *globResult) checkTail(repo string) {
	q := strings.TrimRight(repo, "*")
	if q == repo {
		r.change("without a trailing wildcard it never matched, as policy-controller matches the full name with its tag or digest (" + repo + "@sha256:...); gatehouse matches the repository whatever the tag or digest, so the policy now applies (stricter)")
		return
	}
	star := strings.LastIndex(q, "*")
	if star >= 0 && !strings.Contains(q[star+1:], "/") {
		r.change("its wildcards also reached into the tag or digest (it matched " + q[star+1:] + " there too); gatehouse matches the repository name only (looser)")
	}
}

// translateHost rewrites the registry part of repo for gatehouse.
func (r *globResult) translateHost(repo string) {
	host, path, found := strings.Cut(repo, "/")
	r.globs = []string{repo}
	switch {
	case repo == "**":
	case !found && strings.Contains(repo, "**"):
		r.hostPrefix(repo)
	case !found:
		r.neverMatched("docker.io/library/" + repo)
	case host == "index.docker.io":
		r.globs = []string{"docker.io/" + path}
	case host == "docker.io" || host == "registry-1.docker.io":
		r.neverMatched("docker.io/" + path)
	case !strings.Contains(host, "*") && !looksLikeHost(host): // a Docker Hub namespace
		r.neverMatched("docker.io/" + repo)
	case !strings.Contains(host, "*"), host == "**":
	case strings.Contains(host, "**"):
		r.change(`"**" in the registry part spans "/": review how it meets Docker Hub (index.docker.io there, docker.io here) and the tag or digest`)
	default:
		r.dockerHub(host, path)
	}
}

// neverMatched replaces a glob policy-controller never matched, because the
// full name it matches always starts with the registry, by the one meant.
func (r *globResult) neverMatched(glob string) {
	r.globs = []string{glob}
	r.change("policy-controller matches the full name, which starts with the registry (index.docker.io for Docker Hub), so it never matched; gatehouse matches " + glob + ", so the policy now applies (stricter)")
}

// looksLikeHost is how image references tell a registry from a Docker Hub
// namespace.
func looksLikeHost(s string) bool {
	return strings.ContainsAny(s, ".:") || s == "localhost"
}

// hostPrefix translates a glob without "/" made of a host prefix and "**"
// ("registry.example.**"): it matched every image of the registries whose
// name starts so.
func (r *globResult) hostPrefix(glob string) {
	prefix, rest, _ := strings.Cut(glob, "**")
	if strings.Trim(rest, "*") != "" {
		r.kind, r.globs = Dropped, nil
		r.why = []string{`a glob without "/" must name the registry first in gatehouse; rewrite it as registry/**`}
		return
	}
	r.globs = []string{prefix + "*/**"}
	r.dockerHub(prefix+"*", "**")
}

// dockerHub makes a glob whose registry part has wildcards treat Docker Hub
// as before: policy-controller names it index.docker.io, gatehouse docker.io.
func (r *globResult) dockerHub(host, path string) {
	re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(host), `\*`, "[^/]*") + "$")
	index, hub := re.MatchString("index.docker.io"), re.MatchString("docker.io")
	switch {
	case index && !hub:
		r.globs = append(r.globs, "docker.io/"+path)
	case hub && !index:
		r.change("it did not match Docker Hub, index.docker.io in policy-controller, but matches docker.io in gatehouse (stricter)")
	}
}
