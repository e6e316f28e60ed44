package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/attest"
)

// PredicateAliases are cosign attest's --type names for predicate types.
var PredicateAliases = map[string]string{
	"slsaprovenance":   attest.SLSAProvenanceV02,
	"slsaprovenance02": attest.SLSAProvenanceV02,
	"slsaprovenance1":  attest.SLSAProvenanceV1,
	"cyclonedx":        attest.CycloneDX,
	"spdxjson":         attest.SPDX,
	"vuln":             attest.CosignVuln,
}

// compileAttestations compiles spec.attestations into checks.
func (p *Policy) compileAttestations(ctx context.Context, o Object, secrets SecretReader) []error {
	var errs []error
	seen := map[string]bool{}
	for i, r := range o.Spec.Attestations {
		field := fmt.Sprintf("spec.attestations[%d] (%s)", i, r.Name)
		c, err := p.compileAttestation(ctx, o, r, seen[r.Name], secrets)
		seen[r.Name] = true
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
			continue
		}
		p.Attestations = append(p.Attestations, c)
	}
	return errs
}

func (p *Policy) compileAttestation(ctx context.Context, o Object, r v1alpha1.AttestationRequirement, duplicate bool, secrets SecretReader) (verify.AttestationCheck, error) {
	c := verify.AttestationCheck{ID: p.ID + "/attestations/" + r.Name, PredicateType: r.PredicateType}
	if t, ok := PredicateAliases[r.PredicateType]; ok {
		c.PredicateType = t
	}
	switch {
	case !authorityName.MatchString(r.Name) || len(r.Name) > 63:
		return c, errors.New("name must be a DNS label (lowercase letters, digits, '-')")
	case duplicate:
		return c, errors.New("name is used twice in this policy's attestations")
	case !strings.Contains(c.PredicateType, "://"):
		return c, fmt.Errorf("predicateType %q: give a predicate type URI, such as %s, or one of cosign attest's --type names (%s)", r.PredicateType, attest.SLSAProvenanceV1, aliasList())
	case len(r.Authorities) == 0:
		return c, errors.New("authorities: list at least one key, keyless or Notation authority that signs these attestations")
	}
	var errs []error
	names := map[string]bool{}
	for i, a := range r.Authorities {
		compiled, err := p.compileAuthority(ctx, o, a, names[a.Name], secrets)
		names[a.Name] = true
		if err != nil {
			errs = append(errs, fmt.Errorf("authorities[%d] (%s): %w", i, a.Name, err))
			continue
		}
		compiled.ID = c.ID + "/" + a.Name
		p.names[compiled.ID] = a.Name
		c.Authorities = append(c.Authorities, compiled)
	}
	return c, errors.Join(errs...)
}

func aliasList() string {
	return "slsaprovenance, slsaprovenance02, slsaprovenance1, cyclonedx, spdxjson, vuln"
}

// judgeAttestations returns the failure of the first check that no
// verified attestation satisfies, or "".
func (p *Policy) judgeAttestations(r *verify.Result) (verify.Reason, string) {
	for _, c := range p.Attestations {
		if satisfied(r, c.ID) {
			continue
		}
		var signers []string
		for _, a := range c.Authorities {
			signers = append(signers, fmt.Sprintf("%q (%s)", p.names[a.ID], describe(a)))
		}
		msg := fmt.Sprintf("%s has no verified %s attestation signed by %s (%d of that type attached); %s requires one (attestation %q)",
			r.Digest, c.PredicateType, strings.Join(signers, " or "), r.AttestationsFound[c.PredicateType], p.ID, c.ID[strings.LastIndex(c.ID, "/")+1:])
		for _, rej := range r.Rejected {
			if rej.Authority == c.ID {
				msg += "; " + rej.Message
			}
		}
		return verify.ReasonAttestationMissing, msg + ". Fix: " + attestFix(c, r)
	}
	return "", ""
}

// attestFix says how to make the attestation c requires: with a key, or
// keyless from a signing identity the authorities accept.
func attestFix(c verify.AttestationCheck, r *verify.Result) string {
	cmd := fmt.Sprintf("cosign attest --type %s --predicate <file>", alias(c.PredicateType))
	ref := r.Repository + "@" + r.Digest
	if slices.ContainsFunc(c.Authorities, func(a verify.Authority) bool { return a.Notation != nil }) {
		return fmt.Sprintf("attach the document as a referrer and sign that with notation, e.g. oras attach --artifact-type %s %s <file>, then notation sign %s@<digest oras printed>",
			attest.DocumentTypes(c.PredicateType)[0], ref, r.Repository)
	}
	if slices.ContainsFunc(c.Authorities, func(a verify.Authority) bool { return a.Key != nil }) {
		return fmt.Sprintf("attest the image by digest, e.g. %s --key <key> %s", cmd, ref)
	}
	return fmt.Sprintf("attest the image by digest without a key, from a signing identity named above, e.g. %s %s", cmd, ref)
}

func satisfied(r *verify.Result, id string) bool {
	for _, a := range r.Attestations {
		if a.Requirement == id {
			return true
		}
	}
	return false
}

func alias(predicateType string) string {
	for _, name := range []string{"slsaprovenance1", "slsaprovenance", "cyclonedx", "spdxjson", "vuln"} {
		if PredicateAliases[name] == predicateType {
			return name
		}
	}
	return "custom --type " + predicateType
}

// Checks returns the attestation checks of every policy in ps.
func Checks(ps []*Policy) []verify.AttestationCheck {
	var out []verify.AttestationCheck
	for _, p := range ps {
		out = append(out, p.Attestations...)
	}
	return out
}
