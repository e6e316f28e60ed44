package env

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	clientcmdlatest "k8s.io/client-go/tools/clientcmd/api/latest"
	"sigs.k8s.io/yaml"
)

// APIServer is a running kube-apiserver. No controller-manager or
// scheduler runs: pods stay Pending, which is enough for admission.
type APIServer struct {
	URL        string                // https://127.0.0.1:PORT
	Config     *rest.Config          // admin (system:masters) via bearer token
	Client     *kubernetes.Clientset // built from Config
	CAFile     string                // CA bundle for the self-signed serving cert
	Kubeconfig string                // admin kubeconfig file, for humans and tools
	AuditLog   string                // JSON lines, one per event, Metadata level
	Proc       *Proc
}

// StartAPIServer starts kube-apiserver against etcdURL with its files in
// <Dir>/apiserver, waits until GET /readyz answers 200 and creates the
// "default" ServiceAccount in namespace default.
func (e *Env) StartAPIServer(ctx context.Context, etcdURL string) (*APIServer, error) {
	if e.Tools.KubeAPIServer == "" {
		return nil, &MissingToolError{Missing: []string{ToolKubeAPIServer}, Dir: ToolsDir()}
	}
	name := e.uniqueName("apiserver")
	dir := filepath.Join(e.Dir, name)
	token, err := writeAPIServerFiles(dir)
	if err != nil {
		return nil, err
	}
	a, err := withPorts(1, func(ports []int) (*APIServer, error) {
		return e.startAPIServer(ctx, name, dir, etcdURL, token, ports[0])
	})
	if err != nil {
		return nil, err
	}
	if err := a.writeKubeconfig(filepath.Join(e.Dir, name+".kubeconfig")); err != nil {
		return nil, err
	}
	if err := a.EnsureNamespace(ctx, metav1.NamespaceDefault); err != nil {
		return nil, err
	}
	return a, nil
}

func (e *Env) startAPIServer(ctx context.Context, name, dir, etcdURL, token string, port int) (*APIServer, error) {
	a := &APIServer{
		URL:      fmt.Sprintf("https://127.0.0.1:%d", port),
		CAFile:   filepath.Join(dir, "certs", "apiserver.crt"), // written by kube-apiserver
		AuditLog: filepath.Join(dir, "audit.log"),
	}
	p, err := e.startInfra(ctx, name, a.readyProbe(token), e.Tools.KubeAPIServer,
		"--etcd-servers="+etcdURL,
		fmt.Sprintf("--secure-port=%d", port),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
		// The audit log records what admission webhooks annotate.
		"--audit-policy-file="+filepath.Join(dir, "audit-policy.yaml"),
		"--audit-log-path="+a.AuditLog,
		"--audit-log-format=json",
		"--audit-log-mode=blocking",
		// The endpoints of service "kubernetes" cannot be a loopback
		// address; without this the reconciler logs a failure every 10 s.
		"--endpoint-reconciler-type=none")
	if err != nil {
		return nil, err
	}
	a.Proc = p
	a.Config = &rest.Config{
		Host:            a.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: a.CAFile},
		QPS:             100,
		Burst:           200,
	}
	if a.Client, err = kubernetes.NewForConfig(a.Config); err != nil {
		return nil, err
	}
	return a, nil
}

// readyProbe GETs /readyz with the admin token, trusting CAFile once
// kube-apiserver has written it.
func (a *APIServer) readyProbe(token string) func(context.Context) error {
	var probe func(context.Context) error
	return func(ctx context.Context) error {
		if probe == nil {
			pem, err := os.ReadFile(a.CAFile)
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("no certificates in %s", a.CAFile)
			}
			h := http.Header{"Authorization": {"Bearer " + token}}
			probe = httpOK(a.URL+"/readyz", &tls.Config{RootCAs: pool}, h)
		}
		return probe(ctx)
	}
}

// EnsureNamespace creates namespace name and its "default" ServiceAccount
// (normally made by the controller-manager, which does not run here) if
// they do not exist yet.
func (a *APIServer) EnsureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	_, err := a.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return errorf("create namespace %s: %w", name, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: name}}
	_, err = a.Client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return errorf("create serviceaccount %s/default: %w", name, err)
	}
	return nil
}

func (a *APIServer) writeKubeconfig(path string) error {
	ca, err := os.ReadFile(a.CAFile)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["gatehouse-e2e"] = &clientcmdapi.Cluster{Server: a.URL, CertificateAuthorityData: ca}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: a.Config.BearerToken}
	cfg.Contexts["gatehouse-e2e"] = &clientcmdapi.Context{Cluster: "gatehouse-e2e", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "gatehouse-e2e"
	// As clientcmd.WriteToFile, whose package would add spf13/pflag to go.mod.
	js, err := runtime.Encode(clientcmdlatest.Codec, cfg)
	if err != nil {
		return err
	}
	data, err := yaml.JSONToYAML(js)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	a.Kubeconfig = path
	return nil
}

// writeAPIServerFiles writes the service-account key pair and a token file
// with one random admin token, which it returns.
// auditPolicy logs pod and workload requests at Metadata level, which
// carries the admission webhooks' annotations, and nothing else.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  resources:
  - group: ""
    resources: [pods]
  - group: apps
    resources: [deployments]
- level: None
`

func writeAPIServerFiles(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	priv, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", err
	}
	tok := make([]byte, 24)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	files := map[string][]byte{
		"sa.key":            pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: priv}),
		"sa.pub":            pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"tokens.csv":        []byte(token + ",admin,admin,system:masters\n"),
		"audit-policy.yaml": []byte(auditPolicy),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", err
		}
	}
	return token, nil
}
