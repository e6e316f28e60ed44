package policy

import (
	"slices"

	"gatehouse.dev/gatehouse/verify"
)

// Set is an immutable snapshot of every loaded policy, taken at one revision.
type Set struct {
	// Revision increases with every change to the loaded policies.
	Revision uint64
	cluster  []*Policy
	byNS     map[string][]*Policy
}

// Match returns the cluster policies and the namespace's ImagePolicies that
// cover repository.
func (s *Set) Match(namespace, repository string) (cluster, namespaced []*Policy) {
	for _, p := range s.cluster {
		if p.Matches(repository) {
			cluster = append(cluster, p)
		}
	}
	for _, p := range s.byNS[namespace] {
		if p.Matches(repository) {
			namespaced = append(namespaced, p)
		}
	}
	return cluster, namespaced
}

// Authorities returns the authorities of policies, without repeats.
func Authorities(policies ...[]*Policy) []verify.Authority {
	var out []verify.Authority
	for _, ps := range policies {
		for _, p := range ps {
			for _, a := range p.Authorities {
				if !slices.ContainsFunc(out, func(b verify.Authority) bool { return b.ID == a.ID }) {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// HasRego reports whether a cluster policy or an ImagePolicy of namespace
// has a Rego module.
func (s *Set) HasRego(namespace string) bool {
	hasRego := func(p *Policy) bool { return p.Rego != nil }
	return slices.ContainsFunc(s.cluster, hasRego) || slices.ContainsFunc(s.byNS[namespace], hasRego)
}

// Len returns the number of policies in the set.
func (s *Set) Len() int {
	n := len(s.cluster)
	for _, ps := range s.byNS {
		n += len(ps)
	}
	return n
}

// IDs returns the IDs of the policies in the set.
func (s *Set) IDs() []string {
	var out []string
	for _, p := range s.cluster {
		out = append(out, p.ID)
	}
	for _, ps := range s.byNS {
		for _, p := range ps {
			out = append(out, p.ID)
		}
	}
	slices.Sort(out)
	return out
}

func newSet(revision uint64, policies map[string]*Policy) *Set {
	s := &Set{Revision: revision, byNS: map[string][]*Policy{}}
	ids := make([]string, 0, len(policies))
	for id := range policies {
		ids = append(ids, id)
	}
	slices.Sort(ids) // deterministic order of messages
	for _, id := range ids {
		p := policies[id]
		if p.Namespace == "" {
			s.cluster = append(s.cluster, p)
		} else {
			s.byNS[p.Namespace] = append(s.byNS[p.Namespace], p)
		}
	}
	return s
}
