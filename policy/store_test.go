package policy

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

func TestStoreApplyAndDelete(t *testing.T) {
	pem := newKeyPEM(t)
	spec := func(mode v1alpha1.Mode) v1alpha1.ImagePolicySpec {
		return v1alpha1.ImagePolicySpec{Images: globs("docker.io/**"), Authorities: []v1alpha1.Authority{keyAuthority("ci", pem)}, Mode: mode}
	}
	const prod, web = "ClusterImagePolicy/prod", "ImagePolicy/team-a/web"
	// Steps run in order against one store.
	steps := []struct {
		name         string
		do           func(*Store) error
		wantErr      bool
		wantRevision uint64
		wantModes    map[string]v1alpha1.Mode // policy ID -> mode of what serves
		wantRefused  []string
	}{
		{"first good revision", func(s *Store) error { return s.Apply(clusterPolicy("prod", spec(v1alpha1.ModeEnforce))) },
			false, 1, map[string]v1alpha1.Mode{prod: v1alpha1.ModeEnforce}, nil},
		{"bad revision keeps the good one serving", func(s *Store) error { return s.Apply(clusterPolicy("prod", spec("block"))) },
			true, 1, map[string]v1alpha1.Mode{prod: v1alpha1.ModeEnforce}, []string{prod}},
		{"another object", func(s *Store) error { return s.Apply(namespacedPolicy("team-a", "web", spec(v1alpha1.ModeAudit))) },
			false, 2, map[string]v1alpha1.Mode{prod: v1alpha1.ModeEnforce, web: v1alpha1.ModeAudit}, []string{prod}},
		{"good revision clears the error", func(s *Store) error { return s.Apply(clusterPolicy("prod", spec(v1alpha1.ModeWarn))) },
			false, 3, map[string]v1alpha1.Mode{prod: v1alpha1.ModeWarn, web: v1alpha1.ModeAudit}, nil},
		{"the same revision again publishes nothing", func(s *Store) error { return s.Apply(clusterPolicy("prod", spec(v1alpha1.ModeWarn))) },
			false, 3, map[string]v1alpha1.Mode{prod: v1alpha1.ModeWarn, web: v1alpha1.ModeAudit}, nil},
		{"new object refused from the start", func(s *Store) error { return s.Apply(clusterPolicy("broken", v1alpha1.ImagePolicySpec{})) },
			true, 3, map[string]v1alpha1.Mode{prod: v1alpha1.ModeWarn, web: v1alpha1.ModeAudit}, []string{"ClusterImagePolicy/broken"}},
		{"delete a refused-only object clears its error", func(s *Store) error { s.Delete("", "ClusterImagePolicy/broken"); return nil },
			false, 3, map[string]v1alpha1.Mode{prod: v1alpha1.ModeWarn, web: v1alpha1.ModeAudit}, nil},
		{"delete", func(s *Store) error { s.Delete("", prod); return nil },
			false, 4, map[string]v1alpha1.Mode{web: v1alpha1.ModeAudit}, nil},
		{"delete of an unknown object changes nothing", func(s *Store) error { s.Delete("", "ClusterImagePolicy/nope"); return nil },
			false, 4, map[string]v1alpha1.Mode{web: v1alpha1.ModeAudit}, nil},
		{"bad revision, then delete", func(s *Store) error {
			if err := s.Apply(namespacedPolicy("team-a", "web", spec("block"))); err == nil {
				return fmt.Errorf("bad revision accepted")
			}
			s.Delete("", web)
			return nil
		}, false, 5, map[string]v1alpha1.Mode{}, nil},
	}
	s := NewStore()
	for _, st := range steps {
		before := s.Snapshot()
		beforeLen := before.Len()
		err := st.do(s)
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: error %v, want error %v", st.name, err, st.wantErr)
		}
		snap := s.Snapshot()
		if snap.Revision != st.wantRevision {
			t.Errorf("%s: revision %d, want %d", st.name, snap.Revision, st.wantRevision)
		}
		if before.Len() != beforeLen {
			t.Errorf("%s: an earlier snapshot changed", st.name)
		}
		got := map[string]v1alpha1.Mode{}
		for _, p := range append(slices.Clone(snap.cluster), snap.byNS["team-a"]...) {
			got[p.ID] = p.Mode
		}
		if fmt.Sprint(got) != fmt.Sprint(st.wantModes) || snap.Len() != len(st.wantModes) {
			t.Errorf("%s: serving %v (Len %d), want %v", st.name, got, snap.Len(), st.wantModes)
		}
		errs := s.Errors()
		var refused []string
		for id, e := range errs {
			refused = append(refused, id)
			if !strings.HasPrefix(e.Error(), id+": ") {
				t.Errorf("%s: error of %s does not name it: %v", st.name, id, e)
			}
		}
		slices.Sort(refused)
		if !slices.Equal(refused, st.wantRefused) {
			t.Errorf("%s: refused %v, want %v", st.name, refused, st.wantRefused)
		}
	}
}

func TestStoreErrorsIsACopy(t *testing.T) {
	s := NewStore()
	_ = s.Apply(clusterPolicy("broken", v1alpha1.ImagePolicySpec{}))
	errs := s.Errors()
	delete(errs, "ClusterImagePolicy/broken")
	if len(s.Errors()) != 1 {
		t.Errorf("changing the map Errors returned changed the store")
	}
}

func TestStoreReady(t *testing.T) {
	tests := []struct {
		name    string
		sources []string
		synced  []string
		want    bool
	}{
		{"no sources is ready at once", nil, nil, true},
		{"one source, not synced", []string{"files"}, nil, false},
		{"one source, synced", []string{"files"}, []string{"files"}, true},
		{"two sources, one synced", []string{"files", SourceCluster}, []string{"files"}, false},
		{"two sources, both synced", []string{"files", SourceCluster}, []string{SourceCluster, "files"}, true},
		{"unknown source synced", []string{"files"}, []string{"other"}, false},
		{"synced twice", []string{"files"}, []string{"files", "files"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore(tt.sources...)
			for _, src := range tt.synced {
				s.Synced(src)
			}
			if got := s.Ready(); got != tt.want {
				t.Errorf("Ready() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSetMatch(t *testing.T) {
	s := NewStore()
	for _, o := range []Object{
		clusterPolicy("hub", validSpec(t, "docker.io/**")),
		clusterPolicy("nginx", validSpec(t, "docker.io/library/nginx")),
		clusterPolicy("internal", validSpec(t, "registry.example.com/**")),
		namespacedPolicy("team-a", "library", validSpec(t, "docker.io/library/*")),
		namespacedPolicy("team-a", "internal", validSpec(t, "registry.example.com/team-a/**")),
		namespacedPolicy("team-b", "everything", validSpec(t, "**")),
	} {
		if err := s.Apply(o); err != nil {
			t.Fatal(err)
		}
	}
	set := s.Snapshot()
	if set.Len() != 6 {
		t.Fatalf("Len() = %d, want 6", set.Len())
	}
	tests := []struct {
		name           string
		namespace      string
		repo           string
		wantCluster    []string
		wantNamespaced []string
	}{
		{"cluster and own namespace", "team-a", "docker.io/library/nginx",
			[]string{"ClusterImagePolicy/hub", "ClusterImagePolicy/nginx"}, []string{"ImagePolicy/team-a/library"}},
		{"other namespace's policies never apply", "team-c", "docker.io/library/nginx",
			[]string{"ClusterImagePolicy/hub", "ClusterImagePolicy/nginx"}, []string{}},
		{"namespace with a catch-all", "team-b", "quay.io/x/y", []string{}, []string{"ImagePolicy/team-b/everything"}},
		{"namespaced glob narrower than the cluster one", "team-a", "registry.example.com/team-b/app",
			[]string{"ClusterImagePolicy/internal"}, []string{}},
		{"both namespaced globs checked", "team-a", "registry.example.com/team-a/app",
			[]string{"ClusterImagePolicy/internal"}, []string{"ImagePolicy/team-a/internal"}},
		{"nothing matches", "team-a", "quay.io/x/y", []string{}, []string{}},
		{"empty namespace gets cluster policies only", "", "docker.io/library/redis", []string{"ClusterImagePolicy/hub"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cluster, namespaced := set.Match(tt.namespace, tt.repo)
			if got := ids(cluster); !slices.Equal(got, tt.wantCluster) {
				t.Errorf("cluster %v, want %v", got, tt.wantCluster)
			}
			if got := ids(namespaced); !slices.Equal(got, tt.wantNamespaced) {
				t.Errorf("namespaced %v, want %v", got, tt.wantNamespaced)
			}
		})
	}
}

func TestAuthorities(t *testing.T) {
	a := mustCompile(t, clusterPolicy("a", validSpec(t, "**")))
	b := mustCompile(t, namespacedPolicy("ns", "b", validSpec(t, "**")))
	tests := []struct {
		name  string
		lists [][]*Policy
		want  []string
	}{
		{"none", nil, nil},
		{"one policy", [][]*Policy{{a}}, []string{"ClusterImagePolicy/a/ci"}},
		{"two lists", [][]*Policy{{a}, {b}}, []string{"ClusterImagePolicy/a/ci", "ImagePolicy/ns/b/ci"}},
		{"repeats removed", [][]*Policy{{a, a}, {a, b}}, []string{"ClusterImagePolicy/a/ci", "ImagePolicy/ns/b/ci"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, au := range Authorities(tt.lists...) {
				got = append(got, au.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestStoreConcurrentReaders runs under -race: readers take snapshots while
// a writer applies and deletes.
func TestStoreConcurrentReaders(t *testing.T) {
	s := NewStore()
	spec := validSpec(t, "docker.io/**")
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for {
				select {
				case <-done:
					return
				default:
				}
				set := s.Snapshot()
				if set.Revision < last {
					t.Errorf("revision went back from %d to %d", last, set.Revision)
					return
				}
				last = set.Revision
				set.Match("team-a", "docker.io/library/nginx")
				_ = s.Errors()
				_ = s.Ready()
			}
		}()
	}
	for i := range 200 {
		name := fmt.Sprintf("p%d", i%5)
		if err := s.Apply(clusterPolicy(name, spec)); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			s.Delete("", "ClusterImagePolicy/"+name)
		}
	}
	close(done)
	wg.Wait()
}

// A file policy and a cluster policy of the same name would replace each
// other silently; the second is refused, and deleting it leaves the first.
func TestStoreRefusesOneNameFromTwoSources(t *testing.T) {
	s := NewStore()
	file := Object{Source: SourceFiles, Kind: v1alpha1.KindClusterImagePolicy, Name: "prod", Spec: validSpec(t, "registry.example.com/**")}
	cluster := file
	cluster.Source = SourceCluster
	if err := s.Apply(file); err != nil {
		t.Fatal(err)
	}
	err := s.Apply(cluster)
	if err == nil || !strings.Contains(err.Error(), "already loaded from files") {
		t.Fatalf("clash: %v", err)
	}
	if len(s.Errors()) != 1 {
		t.Fatalf("errors %v", s.Errors())
	}
	s.Delete(SourceCluster, cluster.ID())
	if s.Snapshot().Len() != 1 || len(s.Errors()) != 0 {
		t.Fatalf("after deleting the cluster one: %d policies, errors %v", s.Snapshot().Len(), s.Errors())
	}
}

// Every apply, refusal and deletion counts as a change, even one that
// publishes nothing: reverting to the serving revision after a refused
// one must still reach the policy's status.
func TestStoreChangesAndGenerations(t *testing.T) {
	s := NewStore()
	good, bad := validSpec(t, "docker.io/**"), v1alpha1.ImagePolicySpec{}
	apply := func(gen int64, spec v1alpha1.ImagePolicySpec) {
		o := clusterPolicy("p", spec)
		o.Source, o.Generation = SourceCluster, gen
		_ = s.Apply(o)
	}
	apply(1, good)
	rev, changes := s.Snapshot().Revision, s.Changes()
	apply(2, bad)
	apply(3, good) // the revert
	st, ok := s.State(SourceCluster, "ClusterImagePolicy/p")
	if !ok || st.Generation != 3 || st.Err != nil {
		t.Fatalf("after the revert: %+v %v", st, ok)
	}
	if s.Snapshot().Revision != rev || s.Changes() != changes+2 {
		t.Errorf("revision %d (want %d, nothing new serves), changes %d (want %d)", s.Snapshot().Revision, rev, s.Changes(), changes+2)
	}
	// A Resync that compiled generation 1 while the watch applied a newer
	// one, or deleted the object, must not put generation 1 back.
	stale := clusterPolicy("p", good)
	stale.Source, stale.Generation = SourceCluster, 1
	if err := s.apply(stale, true); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.State(SourceCluster, "ClusterImagePolicy/p"); st.Generation != 3 {
		t.Errorf("a stale Resync replaced generation 3: %+v", st)
	}
	s.Delete(SourceCluster, "ClusterImagePolicy/p")
	if err := s.apply(stale, true); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.State(SourceCluster, "ClusterImagePolicy/p"); ok || s.Snapshot().Len() != 0 {
		t.Errorf("a stale Resync brought a deleted policy back: %d serving", s.Snapshot().Len())
	}
	// The object made anew starts at generation 1 again: the watch's
	// apply is taken.
	apply(1, good)
	if st, ok := s.State(SourceCluster, "ClusterImagePolicy/p"); !ok || st.Generation != 1 || s.Snapshot().Len() != 1 {
		t.Errorf("the recreated object: %+v %v", st, ok)
	}
}
