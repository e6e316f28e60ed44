package verify

import (
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/registry"
)

// ImageConfig is what the image's configuration says about how it runs.
// Environment values are never kept: only the variables' names, and which
// of them look like credentials.
type ImageConfig struct {
	User       string            `json:"user,omitempty"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	WorkingDir string            `json:"workingDir,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	// EnvNames are the names of the variables of the configuration's Env.
	EnvNames []string `json:"envNames"`
	// CredentialEnv are the names of the variables whose name or value
	// looks like a credential (password, token, private key, cloud key...).
	CredentialEnv []string   `json:"credentialEnv"`
	Created       *time.Time `json:"created,omitempty"`
}

type configFile struct {
	Created *time.Time `json:"created"`
	Config  struct {
		User       string            `json:"User"`
		Env        []string          `json:"Env"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		WorkingDir string            `json:"WorkingDir"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
}

var (
	credentialName  = regexp.MustCompile(`(?i)(passw(or)?d|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|credential)`)
	credentialValue = regexp.MustCompile(`(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|gh[pousr]_[A-Za-z0-9]{36}|xox[abpr]-[A-Za-z0-9-]+|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.)`)
)

// LooksLikeCredential reports whether an environment variable set to a
// literal value looks like a credential, by its name or its value. A
// variable whose name ends in _FILE names a file and does not.
func LooksLikeCredential(name, value string) bool {
	if value == "" || strings.HasSuffix(strings.ToUpper(name), "_FILE") {
		return false
	}
	return credentialName.MatchString(name) || credentialValue.MatchString(value)
}

// parseImageConfig reads an image configuration, dropping Env values.
func parseImageConfig(raw []byte) (*ImageConfig, error) {
	var f configFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	c := &ImageConfig{User: f.Config.User, Entrypoint: f.Config.Entrypoint, Cmd: f.Config.Cmd, WorkingDir: f.Config.WorkingDir,
		Labels: f.Config.Labels, EnvNames: []string{}, CredentialEnv: []string{}, Created: f.Created}
	for _, kv := range f.Config.Env {
		name, value, _ := strings.Cut(kv, "=")
		c.EnvNames = append(c.EnvNames, name)
		if LooksLikeCredential(name, value) {
			c.CredentialEnv = append(c.CredentialEnv, name)
		}
	}
	sort.Strings(c.CredentialEnv)
	return c, nil
}

// imageConfig fetches and reads the configuration of the image manifest m.
func (v *Verifier) imageConfig(ctx context.Context, repo *registry.Repo, m *registry.Manifest) (*ImageConfig, *Error) {
	defer v.timed(StepConfig, time.Now())
	key := configKey(m.Digest.String())
	if v.opts.Cache != nil {
		if c, ok := v.opts.Cache.Get(key); ok {
			return c.config, nil
		}
	}
	man, err := registry.ParseManifest(m.Raw)
	if err != nil {
		return nil, registryFailure("reading the manifest of "+repo.Name().String()+"@"+m.Digest.String(), err)
	}
	ctx, cancel := v.step(ctx)
	defer cancel()
	raw, err := repo.Blob(ctx, v1.Descriptor{MediaType: man.Config.MediaType, Digest: man.Config.Digest, Size: man.Config.Size})
	if err != nil {
		return nil, registryFailure("fetching the configuration of "+repo.Name().String()+"@"+m.Digest.String(), err)
	}
	c, err := parseImageConfig(raw)
	if err != nil {
		return nil, failf(ReasonInvalidArtifact, "the configuration of %s@%s is not an image configuration: %v", repo.Name(), m.Digest, err)
	}
	if v.opts.Cache != nil { // a digest names immutable content
		v.opts.Cache.Put(key, cached{config: c}, true)
	}
	return c, nil
}
