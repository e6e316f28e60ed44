package attest

import (
	"encoding/json"
	"strings"
	"time"
)

// Provenance is what a SLSA provenance predicate says about the build.
type Provenance struct {
	// SLSAVersion is "0.2" or "1".
	SLSAVersion string `json:"slsaVersion"`
	// BuilderID identifies the build platform, e.g.
	// https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.0.0.
	BuilderID string `json:"builderID"`
	BuildType string `json:"buildType"`
	// SourceRepository is the source the build started from, e.g.
	// https://github.com/org/repo (a git+ prefix and the @ref are removed).
	SourceRepository string `json:"sourceRepository,omitempty"`
	// SourceRef is the source's ref, e.g. refs/heads/main.
	SourceRef string `json:"sourceRef,omitempty"`
	// SourceDigest is the source's digest, e.g. {"sha1": "..."}.
	SourceDigest map[string]string `json:"sourceDigest,omitempty"`
	// EntryPoint is the build's entry point (v0.2), e.g. the workflow path.
	EntryPoint string `json:"entryPoint,omitempty"`
	// Parameters are the build's external parameters (v1) or invocation
	// parameters (v0.2), as signed.
	Parameters json.RawMessage `json:"parameters,omitempty"`
	// Materials are the build's inputs: v0.2 materials, v1 resolvedDependencies.
	Materials      []Material `json:"materials"`
	InvocationID   string     `json:"invocationID,omitempty"`
	BuildStartedOn *time.Time `json:"buildStartedOn,omitempty"`
	// BuildFinishedOn is when the build ended, if the builder says.
	BuildFinishedOn *time.Time `json:"buildFinishedOn,omitempty"`
}

// Material is one input of a build.
type Material struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest,omitempty"`
}

type provenanceV02 struct {
	Builder struct {
		ID string `json:"id"`
	} `json:"builder"`
	BuildType  string `json:"buildType"`
	Invocation struct {
		ConfigSource struct {
			URI        string            `json:"uri"`
			Digest     map[string]string `json:"digest"`
			EntryPoint string            `json:"entryPoint"`
		} `json:"configSource"`
		Parameters json.RawMessage `json:"parameters"`
	} `json:"invocation"`
	Metadata struct {
		BuildInvocationID string     `json:"buildInvocationID"`
		BuildStartedOn    *time.Time `json:"buildStartedOn"`
		BuildFinishedOn   *time.Time `json:"buildFinishedOn"`
	} `json:"metadata"`
	Materials []Material `json:"materials"`
}

func parseProvenanceV02(raw json.RawMessage) (*Provenance, error) {
	var v provenanceV02
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	p := &Provenance{
		SLSAVersion: "0.2", BuilderID: v.Builder.ID, BuildType: v.BuildType,
		SourceDigest: v.Invocation.ConfigSource.Digest, EntryPoint: v.Invocation.ConfigSource.EntryPoint,
		Parameters: v.Invocation.Parameters, Materials: nonNil(v.Materials), InvocationID: v.Metadata.BuildInvocationID,
		BuildStartedOn: v.Metadata.BuildStartedOn, BuildFinishedOn: v.Metadata.BuildFinishedOn,
	}
	p.SourceRepository, p.SourceRef = splitSource(v.Invocation.ConfigSource.URI)
	return p, nil
}

type provenanceV1 struct {
	BuildDefinition struct {
		BuildType          string          `json:"buildType"`
		ExternalParameters json.RawMessage `json:"externalParameters"`
		ResolvedDeps       []struct {
			URI    string            `json:"uri"`
			Digest map[string]string `json:"digest"`
		} `json:"resolvedDependencies"`
	} `json:"buildDefinition"`
	RunDetails struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
		Metadata struct {
			InvocationID string     `json:"invocationID"`
			StartedOn    *time.Time `json:"startedOn"`
			FinishedOn   *time.Time `json:"finishedOn"`
		} `json:"metadata"`
	} `json:"runDetails"`
}

// workflowParameters are the external parameters GitHub Actions builders
// (slsa-github-generator, GitHub's attestations) record.
type workflowParameters struct {
	Workflow struct {
		Repository string `json:"repository"`
		Ref        string `json:"ref"`
		Path       string `json:"path"`
	} `json:"workflow"`
}

func parseProvenanceV1(raw json.RawMessage) (*Provenance, error) {
	var v provenanceV1
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	bd, rd := v.BuildDefinition, v.RunDetails
	p := &Provenance{
		SLSAVersion: "1", BuilderID: rd.Builder.ID, BuildType: bd.BuildType, Parameters: bd.ExternalParameters,
		Materials: []Material{}, InvocationID: rd.Metadata.InvocationID,
		BuildStartedOn: rd.Metadata.StartedOn, BuildFinishedOn: rd.Metadata.FinishedOn,
	}
	for _, d := range bd.ResolvedDeps {
		p.Materials = append(p.Materials, Material{URI: d.URI, Digest: d.Digest})
	}
	var wf workflowParameters
	if json.Unmarshal(bd.ExternalParameters, &wf) == nil && wf.Workflow.Repository != "" {
		p.SourceRepository, p.SourceRef, p.EntryPoint = strings.TrimSuffix(wf.Workflow.Repository, ".git"), wf.Workflow.Ref, wf.Workflow.Path
	}
	for _, m := range p.Materials { // the first git dependency is the source
		if repo, ref := splitSource(m.URI); strings.HasPrefix(m.URI, "git+") && (p.SourceRepository == "" || p.SourceRepository == repo) {
			p.SourceRepository, p.SourceDigest = repo, m.Digest
			if p.SourceRef == "" {
				p.SourceRef = ref
			}
			break
		}
	}
	return p, nil
}

// splitSource turns "git+https://github.com/org/repo@refs/heads/main" into
// the repository and the ref.
func splitSource(uri string) (repo, ref string) {
	uri = strings.TrimPrefix(uri, "git+")
	if i := strings.LastIndex(uri, "@"); i > strings.Index(uri, "://")+2 && strings.Contains(uri, "://") {
		uri, ref = uri[:i], uri[i+1:]
	}
	return strings.TrimSuffix(uri, ".git"), ref
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
