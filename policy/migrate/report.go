package migrate

import (
	"fmt"
	"io"
	"strings"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// Kind says how one part of a policy-controller policy carried over.
type Kind int

// Kinds, from harmless to worst.
const (
	// Mapped: carried over with the same meaning.
	Mapped Kind = iota
	// Ignored: left out because it decides nothing in gatehouse, or decided
	// nothing in policy-controller either.
	Ignored
	// Changed: carried over, but admits more or fewer images than before;
	// the note says which ("stricter" or "looser").
	Changed
	// Dropped: could not be carried over; the note says what happens
	// instead.
	Dropped
)

func (k Kind) String() string {
	switch k {
	case Mapped:
		return "mapped"
	case Ignored:
		return "ignored"
	case Changed:
		return "changed"
	}
	return "dropped"
}

// Note is one line of the report: what became of one field.
type Note struct {
	Kind Kind
	// Field is the path in the policy-controller policy, e.g.
	// "spec.authorities[0].keyless.identities[1].subjectRegExp".
	Field   string
	Message string
}

// Result is the conversion of one policy-controller ClusterImagePolicy.
type Result struct {
	// Source names the input: "policy.sigstore.dev/v1beta1 ClusterImagePolicy NAME".
	Source string
	// Policy is the gatehouse policy, nil when nothing could be converted.
	Policy *v1alpha1.ClusterImagePolicy
	Notes  []Note
}

// Exact reports whether the document was converted with its meaning
// intact: nothing changed meaning and nothing was dropped.
func (r Result) Exact() bool {
	for _, n := range r.Notes {
		if n.Kind >= Changed {
			return false
		}
	}
	return true
}

func (r *Result) note(kind Kind, field, format string, args ...any) {
	r.Notes = append(r.Notes, Note{Kind: kind, Field: field, Message: fmt.Sprintf(format, args...)})
}

// WriteReport writes the notes of every result, then a summary line.
func WriteReport(w io.Writer, results []Result) error {
	var b strings.Builder
	var exact, changed, failed int
	for _, r := range results {
		switch {
		case r.Policy == nil && r.Exact():
			fmt.Fprintf(&b, "%s: nothing to convert\n", r.Source)
		case r.Policy == nil:
			failed++
			fmt.Fprintf(&b, "%s: NOT CONVERTED\n", r.Source)
		case r.Exact():
			exact++
			fmt.Fprintf(&b, "%s: converted exactly\n", r.Source)
		default:
			changed++
			fmt.Fprintf(&b, "%s: converted, REVIEW what changed\n", r.Source)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  %-8s %s: %s\n", n.Kind, n.Field, n.Message)
		}
	}
	fmt.Fprintf(&b, "%d converted exactly, %d converted with changes, %d not converted\n", exact, changed, failed)
	_, err := io.WriteString(w, b.String())
	return err
}
