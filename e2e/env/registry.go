package env

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

const registryConfig = `version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
health:
  storagedriver:
    enabled: false
`

// StartRegistry starts docker-registry (distribution 2.8: no referrers
// API) storing blobs in <Dir>/registry, with deletes enabled, serving plain
// HTTP on a free loopback port. It returns "127.0.0.1:PORT" once GET /v2/
// answers 200.
func (e *Env) StartRegistry(ctx context.Context) (string, error) {
	if e.Tools.Registry == "" {
		return "", &MissingToolError{Missing: []string{ToolRegistry}, Dir: ToolsDir()}
	}
	name := e.uniqueName("registry")
	dir := filepath.Join(e.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return withPorts(1, func(ports []int) (string, error) {
		host := fmt.Sprintf("127.0.0.1:%d", ports[0])
		conf := filepath.Join(dir, "config.yml")
		data := fmt.Sprintf(registryConfig, filepath.Join(dir, "data"), host)
		if err := os.WriteFile(conf, []byte(data), 0o644); err != nil {
			return "", err
		}
		_, err := e.startInfra(ctx, name, httpOK("http://"+host+"/v2/", nil, nil), e.Tools.Registry, "serve", conf)
		if err != nil {
			return "", err
		}
		return host, nil
	})
}
