package env

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Tool names, as accepted by RequireTools and reported by MissingToolError.
const (
	ToolEtcd          = "etcd"
	ToolKubeAPIServer = "kube-apiserver"
	ToolRegistry      = "docker-registry"
	ToolCosign        = "cosign"   // cosign v2
	ToolCosign3       = "cosign3"  // cosign v3 (sigstore bundles as OCI 1.1 referrers)
	ToolZot           = "zot"      // zot, a registry with the referrers API
	ToolNotation      = "notation" // notation v1.3: Notary Project signatures (JWS or COSE)
	ToolSyft          = "syft"     // syft: SBOMs of images
)

// Tools holds absolute paths of the binaries the harness runs. A field is
// empty when FindTools did not find that tool.
type Tools struct{ Etcd, KubeAPIServer, Registry, Cosign, Cosign3, Zot, Notation, Syft string }

// MissingToolError reports tools that FindTools could not find.
type MissingToolError struct {
	Missing []string // tool names, e.g. "etcd"
	Dir     string   // tools directory searched before PATH ("" if unknown)
}

func (e *MissingToolError) Error() string {
	where := "PATH"
	if e.Dir != "" {
		where = e.Dir + " and PATH"
	}
	return fmt.Sprintf("e2e tools missing: %s (looked in %s); run `make tools` (bash e2e/tools/install.sh)",
		strings.Join(e.Missing, ", "), where)
}

// ToolsDir is where install.sh puts binaries: $GATEHOUSE_TOOLS, else
// <repo>/.cache/bin where <repo> is found by walking up from the working
// directory to the gatehouse go.mod. It is "" when neither applies.
func ToolsDir() string {
	if d := os.Getenv("GATEHOUSE_TOOLS"); d != "" {
		return d
	}
	if root := repoRoot(); root != "" {
		return filepath.Join(root, ".cache", "bin")
	}
	return ""
}

// FindTools looks up every tool in ToolsDir, then in PATH. It returns the
// tools it found, and a *MissingToolError if any is missing.
func FindTools() (Tools, error) {
	dir := ToolsDir()
	var missing []string
	find := func(name string) string {
		p := lookTool(dir, name)
		if p == "" {
			missing = append(missing, name)
		}
		return p
	}
	t := Tools{
		Etcd:          find(ToolEtcd),
		KubeAPIServer: find(ToolKubeAPIServer),
		Registry:      find(ToolRegistry),
		Cosign:        find(ToolCosign),
		Cosign3:       find(ToolCosign3),
		Zot:           find(ToolZot),
		Notation:      find(ToolNotation),
		Syft:          find(ToolSyft),
	}
	if len(missing) > 0 {
		return t, &MissingToolError{Missing: missing, Dir: dir}
	}
	return t, nil
}

// RequireTools finds the tools a test needs (all of them when need is
// empty). When one is missing the test is skipped, or fails if the
// GATEHOUSE_E2E environment variable is set.
func RequireTools(t testing.TB, need ...string) Tools {
	t.Helper()
	tools, err := FindTools()
	if err == nil {
		return tools
	}
	miss := err.(*MissingToolError)
	if len(need) > 0 {
		miss = &MissingToolError{Dir: miss.Dir, Missing: intersect(miss.Missing, need)}
	}
	switch {
	case len(miss.Missing) == 0:
		return tools
	case os.Getenv("GATEHOUSE_E2E") != "":
		t.Fatalf("GATEHOUSE_E2E is set but %v", miss)
	default:
		t.Skipf("skipping e2e test: %v", miss)
	}
	return tools
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
			}
		}
	}
	return out
}

// lookTool returns the absolute path of an executable named name in dir,
// else in PATH, else "".
func lookTool(dir, name string) string {
	if dir != "" {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			if abs, err := filepath.Abs(p); err == nil {
				return abs
			}
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return ""
}

// repoRoot walks up from the working directory to the directory whose
// go.mod declares module gatehouse.dev/gatehouse.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if modulePath(filepath.Join(dir, "go.mod")) == "gatehouse.dev/gatehouse" {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
