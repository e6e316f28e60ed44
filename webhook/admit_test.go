package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

var (
	deploymentKind = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	cronJobKind    = metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}
)

func TestValidatePods(t *testing.T) {
	f := newFixture(t, nil, nil)
	withInit := pod("p", f.signed+"@"+f.signedDigest)
	withInit.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: f.unsigned}}
	withVolume := pod("p", f.signed+"@"+f.signedDigest)
	withVolume.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: f.unsigned}}}}
	tests := []struct {
		name        string
		obj         any
		opts        reviewOpts
		wantAllowed bool
		wantInMsg   []string
		wantWarning string
	}{
		{name: "signed and pinned", obj: pod("p", f.signed+"@"+f.signedDigest), wantAllowed: true},
		{name: "signed tag: admitted with a not-pinned warning", obj: pod("p", f.signed), wantAllowed: true, wantWarning: "not pinned"},
		{name: "unsigned", obj: pod("p", f.unsigned),
			wantInMsg: []string{`image "` + f.unsigned + `"`, "unsigned", "ClusterImagePolicy/ci", "Fix:"}},
		{name: "one unsigned among signed", obj: pod("p", f.signed+"@"+f.signedDigest, f.unsigned), wantInMsg: []string{f.unsigned}},
		{name: "unsigned init container", obj: withInit, wantInMsg: []string{`initContainers "setup"`}},
		{name: "unsigned image volume", obj: withVolume, wantInMsg: []string{`volumes "data"`}},
		{name: "missing tag", obj: pod("p", f.host+"/app/signed:nope"), wantInMsg: []string{"image-not-found"}},
		{name: "no policy matches", obj: pod("p", "nginx:1.27"), wantInMsg: []string{"unmatched-image", "docker.io/library/nginx"}},
		{name: "malformed reference", obj: pod("p", "UPPER/Case:x"), wantInMsg: []string{"bad-request"}},
		{name: "dry run: same verdict", obj: pod("p", f.unsigned), opts: reviewOpts{dryRun: true}, wantInMsg: []string{"unsigned"}},
		{name: "update swapping in an unsigned image", obj: pod("p", f.unsigned),
			opts: reviewOpts{op: admissionv1.Update, old: pod("p", f.signed+"@"+f.signedDigest)}, wantInMsg: []string{"unsigned"}},
		{name: "update leaving images alone", obj: pod("p", f.unsigned),
			opts: reviewOpts{op: admissionv1.Update, old: pod("p", f.unsigned)}, wantAllowed: true},
		{name: "ephemeral container with an unsigned image", obj: withEphemeral(pod("p", f.signed), f.unsigned),
			opts: reviewOpts{op: admissionv1.Update, subResource: "ephemeralcontainers", old: pod("p", f.signed)}, wantInMsg: []string{`ephemeralContainers "debugger"`}},
		{name: "ephemeral container with a signed image", obj: withEphemeral(pod("p", f.signed), f.signed+"@"+f.signedDigest),
			opts: reviewOpts{op: admissionv1.Update, subResource: "ephemeralcontainers", old: pod("p", f.signed)}, wantAllowed: true},
		{name: "status update is not checked", obj: pod("p", f.unsigned),
			opts: reviewOpts{op: admissionv1.Update, subResource: "status", old: pod("p", f.signed)}, wantAllowed: true},
		{name: "deployment with one unsigned container", obj: deployment(f.signed, f.unsigned), opts: reviewOpts{kind: deploymentKind},
			wantInMsg: []string{"Deployment team/p", f.unsigned}},
		{name: "deployment all signed: no pinning warning for templates", obj: deployment(f.signed), opts: reviewOpts{kind: deploymentKind}, wantAllowed: true},
		{name: "cronjob with an unsigned container", obj: cronJob(f.unsigned), opts: reviewOpts{kind: cronJobKind}, wantInMsg: []string{f.unsigned}},
		{name: "delete is not checked", obj: nil, opts: reviewOpts{op: admissionv1.Delete, old: pod("p", f.unsigned)}, wantAllowed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.validate(t, tc.obj, tc.opts)
			if resp.Allowed != tc.wantAllowed {
				t.Fatalf("allowed = %v, want %v; result %+v", resp.Allowed, tc.wantAllowed, resp.Result)
			}
			for _, s := range tc.wantInMsg {
				if resp.Result == nil || !strings.Contains(resp.Result.Message, s) {
					t.Errorf("message %q lacks %q", msg(resp), s)
				}
			}
			if tc.wantWarning == "" && len(resp.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", resp.Warnings)
			}
			if tc.wantWarning != "" && !strings.Contains(strings.Join(resp.Warnings, "\n"), tc.wantWarning) {
				t.Errorf("warnings %q lack %q", resp.Warnings, tc.wantWarning)
			}
		})
	}
}

func msg(r *admissionv1.AdmissionResponse) string {
	if r.Result == nil {
		return ""
	}
	return r.Result.Message
}

func withEphemeral(p *corev1.Pod, image string) *corev1.Pod {
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: image}}}
	return p
}

func template(images ...string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: pod("", images...).Spec}
}

func deployment(images ...string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "team"}, Spec: appsv1.DeploymentSpec{Template: template(images...)}}
}

func cronJob(images ...string) *batchv1.CronJob {
	c := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "team"}}
	c.Spec.JobTemplate.Spec.Template = template(images...)
	return c
}

func TestModes(t *testing.T) {
	tests := []struct {
		mode        v1alpha1.Mode
		wantAllowed bool
		wantWarning bool
		wantAudit   bool
	}{
		{mode: v1alpha1.ModeEnforce},
		{mode: v1alpha1.ModeWarn, wantAllowed: true, wantWarning: true},
		{mode: v1alpha1.ModeAudit, wantAllowed: true, wantAudit: true},
	}
	for _, tc := range tests {
		t.Run(string(tc.mode), func(t *testing.T) {
			f := newFixture(t, nil, func(s *v1alpha1.ImagePolicySpec) { s.Mode = tc.mode })
			resp := f.validate(t, pod("p", f.unsigned), reviewOpts{})
			if resp.Allowed != tc.wantAllowed || (len(resp.Warnings) > 0) != tc.wantWarning {
				t.Fatalf("allowed %v warnings %q", resp.Allowed, resp.Warnings)
			}
			if got := resp.AuditAnnotations["policy"]; got != "ClusterImagePolicy/ci" {
				t.Errorf("audit annotation policy %q", got)
			}
			_, audited := resp.AuditAnnotations["audit-failures"]
			if audited != tc.wantAudit {
				t.Fatalf("audit annotations %v", resp.AuditAnnotations)
			}
			label := map[v1alpha1.Mode]string{v1alpha1.ModeEnforce: "deny", v1alpha1.ModeWarn: "warn", v1alpha1.ModeAudit: "allow"}[tc.mode]
			if got := testutil.ToFloat64(f.admitter.cfg.Metrics.decisions.WithLabelValues(label, "CREATE", "Pod", "ClusterImagePolicy/ci", string(tc.mode), "unsigned")); got != 1 {
				t.Fatalf("decisions{%s} = %v, want 1", label, got)
			}
		})
	}
}

func TestUnmatchedDefault(t *testing.T) {
	for _, tc := range []struct {
		action      Action
		wantAllowed bool
		wantWarning bool
	}{{Deny, false, false}, {Warn, true, true}, {Allow, true, false}} {
		t.Run(string(tc.action), func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.Unmatched = tc.action }, nil)
			resp := f.validate(t, pod("p", "nginx:1.27"), reviewOpts{})
			if resp.Allowed != tc.wantAllowed || (len(resp.Warnings) > 0) != tc.wantWarning {
				t.Fatalf("allowed %v warnings %q", resp.Allowed, resp.Warnings)
			}
		})
	}
}

// A registry that refuses connections is inconclusive: denied by default,
// admitted with a warning and counted as fail-open when so configured.
func TestInfrastructureFailure(t *testing.T) {
	for _, tc := range []struct {
		action      Action
		wantAllowed bool
		wantLabel   string
	}{{Deny, false, "deny"}, {Allow, true, "fail-open"}} {
		t.Run(string(tc.action), func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.InfraFailure = tc.action }, func(s *v1alpha1.ImagePolicySpec) {
				s.Images = append(s.Images, v1alpha1.ImageGlob{Glob: "127.0.0.1:1/**"})
			})
			resp := f.validate(t, pod("p", "127.0.0.1:1/app/x:v1"), reviewOpts{})
			if resp.Allowed != tc.wantAllowed {
				t.Fatalf("allowed %v: %s", resp.Allowed, msg(resp))
			}
			got := testutil.ToFloat64(f.admitter.cfg.Metrics.decisions.WithLabelValues(tc.wantLabel, "CREATE", "Pod", "ClusterImagePolicy/ci", "enforce", "registry-error"))
			if got != 1 {
				t.Fatalf("decisions{%s,registry-error} = %v, want 1", tc.wantLabel, got)
			}
		})
	}
}

func TestMutatePinsVerifiedDigests(t *testing.T) {
	pinOff := false
	tests := []struct {
		name      string
		spec      func(*v1alpha1.ImagePolicySpec)
		obj       any
		kind      metav1.GroupVersionKind
		wantPatch []PatchOp
	}{
		{name: "signed tag is pinned", obj: pod("p", "SIGNED"), wantPatch: []PatchOp{{Op: "replace", Path: "/spec/containers/0/image", Value: "SIGNED@DIGEST"}}},
		{name: "already pinned", obj: pod("p", "SIGNED@DIGEST")},
		{name: "unsigned is not pinned", obj: pod("p", "UNSIGNED")},
		{name: "pinning off", spec: func(s *v1alpha1.ImagePolicySpec) { s.PinDigest = &pinOff }, obj: pod("p", "SIGNED")},
		{name: "templates are not pinned", obj: deployment("SIGNED"), kind: deploymentKind},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil, tc.spec)
			obj := substitute(t, tc.obj, f)
			resp := f.post(t, PathMutate, review(t, obj, reviewOpts{kind: tc.kind}))
			if !resp.Allowed {
				t.Fatalf("mutating webhook denied: %s", msg(resp))
			}
			var got []PatchOp
			if len(resp.Patch) > 0 {
				if err := json.Unmarshal(resp.Patch, &got); err != nil {
					t.Fatal(err)
				}
			}
			want := substitutePatch(tc.wantPatch, f)
			if len(got) != len(want) || (len(want) > 0 && got[0] != want[0]) {
				t.Fatalf("patch %+v, want %+v", got, want)
			}
		})
	}
}

// substitute fills the fixture's image names into a test object.
func substitute(t *testing.T, obj any, f *fixture) any {
	b, _ := json.Marshal(obj)
	s := strings.NewReplacer("SIGNED@DIGEST", f.signed+"@"+f.signedDigest, "UNSIGNED", f.unsigned, "SIGNED", f.signed).Replace(string(b))
	var out map[string]any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func substitutePatch(ops []PatchOp, f *fixture) []PatchOp {
	for i := range ops {
		ops[i].Value = strings.NewReplacer("SIGNED@DIGEST", f.signed+"@"+f.signedDigest).Replace(ops[i].Value)
	}
	return ops
}

func TestPolicyObjectsAreValidated(t *testing.T) {
	f := newFixture(t, nil, nil)
	kind := metav1.GroupVersionKind{Group: v1alpha1.Group, Version: v1alpha1.Version, Kind: v1alpha1.KindClusterImagePolicy}
	bad := map[string]any{
		"apiVersion": "gatehouse.dev/v1alpha1", "kind": "ClusterImagePolicy", "metadata": map[string]any{"name": "bad"},
		"spec": map[string]any{"images": []any{map[string]any{"glob": "nginx"}}, "authorities": []any{map[string]any{"name": "ci", "key": map[string]any{"data": "nope"}}}},
	}
	resp := f.validate(t, bad, reviewOpts{kind: kind})
	if resp.Allowed || !strings.Contains(msg(resp), "spec.images[0]") || !strings.Contains(msg(resp), "public key") {
		t.Fatalf("bad policy: allowed %v, message %q", resp.Allowed, msg(resp))
	}
}

func TestAdmitDirectly(t *testing.T) {
	f := newFixture(t, nil, nil)
	d := f.admitter.Admit(context.Background(), review(t, pod("p", f.unsigned), reviewOpts{}).Request, false)
	if d.Allowed || d.Reason != "unsigned" || d.Label() != "deny" || len(d.Images) != 1 {
		t.Fatalf("decision %+v", d)
	}
}
