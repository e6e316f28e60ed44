package env

import (
	"context"
	"fmt"
	"path/filepath"
)

// StartEtcd starts a single-member etcd with its data in <Dir>/etcd and
// client and peer URLs on free loopback ports. It returns the client URL
// once GET /health answers 200.
func (e *Env) StartEtcd(ctx context.Context) (string, error) {
	if e.Tools.Etcd == "" {
		return "", &MissingToolError{Missing: []string{ToolEtcd}, Dir: ToolsDir()}
	}
	name := e.uniqueName("etcd")
	return withPorts(2, func(ports []int) (string, error) {
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
		_, err := e.startInfra(ctx, name, httpOK(client+"/health", nil, nil), e.Tools.Etcd,
			"--name=default",
			"--data-dir="+filepath.Join(e.Dir, name),
			"--listen-client-urls="+client,
			"--advertise-client-urls="+client,
			"--listen-peer-urls="+peer,
			"--initial-advertise-peer-urls="+peer,
			"--initial-cluster=default="+peer,
			// A single member elects itself after one election timeout:
			// keep it short (defaults 100/1000 ms cost a second per start).
			"--heartbeat-interval=10", "--election-timeout=100",
			"--logger=zap", "--log-outputs=stderr")
		if err != nil {
			return "", err
		}
		return client, nil
	})
}
