package policy

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse.dev/gatehouse/policy/rego"
)

// Store holds the loaded policies. Sources (files, the cluster watch) apply
// and delete objects; the webhook reads consistent snapshots without locks.
type Store struct {
	rego     rego.Options // guarded by mu
	mu       sync.Mutex
	policies map[string]*Policy // last good compiled revision, by object ID
	owner    map[string]string  // the source an object ID was first loaded from
	objects  map[string]Object  // the latest revision applied, for Resync
	secrets  SecretReader       // reads keys kept in Secrets (and trusted roots in ConfigMaps); nil: none
	errs     map[string]error   // objects whose latest revision was refused
	gens     map[string]int64   // the generation of each object's latest revision, by source/ID
	prints   map[string]string  // the fingerprint of each serving policy, by ID
	revision uint64
	pending  map[string]bool // sources that have not finished their first load
	current  atomic.Pointer[Set]
	refused  uint64    // revisions refused since start
	changes  uint64    // objects applied, refused or deleted since start
	changed  time.Time // when the current set was published
}

// NewStore returns an empty store that is ready once every named source has
// called Synced.
func NewStore(sources ...string) *Store {
	s := &Store{policies: map[string]*Policy{}, owner: map[string]string{}, objects: map[string]Object{}, errs: map[string]error{}, gens: map[string]int64{}, prints: map[string]string{}, pending: map[string]bool{}}
	for _, src := range sources {
		s.pending[src] = true
	}
	s.current.Store(newSet(0, nil))
	return s
}

// Apply compiles o and, when valid, makes it current. When o is refused, the
// previous good revision of the same object (if any) keeps serving, and the
// error is returned and kept for Errors.
func (s *Store) Apply(o Object) error {
	return s.apply(o, false)
}

// apply is Apply; with again (a Resync), o is applied only if it is still
// the latest revision of its object once compiled: the watch may have
// applied a newer one, or deleted it, meanwhile.
func (s *Store) apply(o Object, again bool) error {
	p, print, err := s.compile(o)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.objects[o.ID()]; again && (!ok || !reflect.DeepEqual(cur, o)) {
		return nil
	}
	s.changes++
	s.gens[o.Source+"/"+o.ID()] = o.Generation
	if owner, ok := s.owner[o.ID()]; ok && owner != o.Source {
		// Two sources, one name: replacing one with the other silently, and
		// losing both when one is deleted, would be worse than refusing.
		err = fmt.Errorf("%s is already loaded from %s; give the %s one another name", o.ID(), owner, o.Source)
		s.errs[o.Source+"/"+o.ID()] = err
		return err
	}
	s.objects[o.ID()] = o
	if err != nil {
		s.errs[o.ID()] = err
		s.refused++
		return err
	}
	delete(s.errs, o.ID())
	s.owner[o.ID()] = o.Source
	if _, serving := s.policies[o.ID()]; serving && s.prints[o.ID()] == print {
		return nil // the same policy again (a re-read of unchanged Secrets): nothing to publish
	}
	s.policies[o.ID()] = p
	s.prints[o.ID()] = print
	s.publish()
	return nil
}

// refuse records err for the object with the given ID when its latest
// revision (of the given generation) could not even be decoded; the
// previous good revision, if any, keeps serving, as with Apply.
func (s *Store) refuse(source, id string, generation int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes++
	s.gens[source+"/"+id] = generation
	s.errs[id] = err
	s.refused++
}

// Changes counts the objects applied (whether or not they changed what
// serves), refused or deleted since the store was made: a status that
// reflects them may have to change.
func (s *Store) Changes() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes
}

// State is what the store made of the latest revision of one object.
type State struct {
	// Generation is that revision's metadata.generation.
	Generation int64
	// Err says why it was refused; nil when it serves.
	Err error
}

// State returns the state of the object with the given ID that source
// applied, or false when source has not applied it (or deleted it).
func (s *Store) State(source, id string) (State, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gen, ok := s.gens[source+"/"+id]
	if !ok {
		return State{}, false
	}
	st := State{Generation: gen, Err: s.errs[source+"/"+id]}
	if st.Err == nil && s.owner[id] != "" && s.owner[id] != source {
		st.Err = fmt.Errorf("%s is already loaded from %s", id, s.owner[id])
	}
	if st.Err == nil {
		st.Err = s.errs[id]
	}
	return st, true
}

// Delete removes the object with the given ID that source loaded; an object
// of the same ID from another source stays.
func (s *Store) Delete(source, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes++
	delete(s.errs, source+"/"+id)
	delete(s.gens, source+"/"+id)
	if owner, ok := s.owner[id]; ok && owner != source {
		return
	}
	delete(s.errs, id)
	delete(s.owner, id)
	delete(s.objects, id)
	delete(s.prints, id)
	if _, ok := s.policies[id]; ok {
		delete(s.policies, id)
		s.publish()
	}
}

// UseSecrets lets policies keep their keys in Secrets, read with r, and, if
// r is also a ConfigMapReader, their trusted roots in ConfigMaps.
func (s *Store) UseSecrets(r SecretReader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = r
}

// Check compiles o as Apply would, without applying it: for refusing a bad
// policy when it is applied to the cluster.
func (s *Store) Check(o Object) error {
	_, _, err := s.compile(o)
	return err
}

// Resync applies again every object that reads a key from a Secret or a
// trusted root from a ConfigMap, so a changed or rotated one takes effect.
// It returns the refusals.
func (s *Store) Resync() error {
	s.mu.Lock()
	var todo []Object
	for _, o := range s.objects {
		if usesCluster(o) {
			todo = append(todo, o)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, o := range todo {
		errs = append(errs, s.apply(o, true))
	}
	return errors.Join(errs...)
}

// compile compiles o, and fingerprints what it compiled from.
func (s *Store) compile(o Object) (*Policy, string, error) {
	s.mu.Lock()
	secrets := s.secrets
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), secretTimeout)
	defer cancel()
	f := newFingerprint(o)
	p, err := compile(ctx, o, f.reader(secrets), s.regoOptions())
	return p, f.sum(), err
}

// SetRego sets the options of the Rego evaluations (time limit, clock) of
// policies compiled from now on.
func (s *Store) SetRego(o rego.Options) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rego = o
	clear(s.prints) // what compiled before was compiled with other options
}

func (s *Store) regoOptions() rego.Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rego
}

// secretTimeout bounds reading the Secrets and ConfigMaps of one policy.
const secretTimeout = 10 * time.Second

// Synced marks a source's first load as complete.
func (s *Store) Synced(source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, source)
}

// Ready reports whether every source has completed its first load.
func (s *Store) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) == 0
}

// Snapshot returns the current policies.
func (s *Store) Snapshot() *Set { return s.current.Load() }

// Errors returns the objects whose latest revision was refused, by ID.
func (s *Store) Errors() map[string]error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]error, len(s.errs))
	for k, v := range s.errs {
		out[k] = v
	}
	return out
}

func (s *Store) publish() {
	s.revision++
	s.changed = time.Now()
	s.current.Store(newSet(s.revision, s.policies))
}

// Refused counts the policy revisions refused since the store was made
// (they did not compile, or could not be decoded or read).
func (s *Store) Refused() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Changed is when the current policy set was published (zero before the
// first policy loaded).
func (s *Store) Changed() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}
