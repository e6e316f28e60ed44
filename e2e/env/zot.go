package env

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// zotDistSpecVersion is the distribution-spec version zot v1.4.3 is built
// against; zot replaces any other value with it (and logs a warning).
const zotDistSpecVersion = "1.0.1-dev"

// zotConfig is the part of zot's configuration the harness sets.
type zotConfig struct {
	DistSpecVersion string `json:"distSpecVersion"`
	Storage         struct {
		RootDirectory string `json:"rootDirectory"`
	} `json:"storage"`
	HTTP struct {
		Address string `json:"address"`
		Port    string `json:"port"`
	} `json:"http"`
	Log struct {
		Level string `json:"level"` // no output: stdout, the process log
	} `json:"log"`
}

// StartZot starts zot (an OCI registry that serves the OCI 1.1 referrers
// API, /v2/<name>/referrers/<digest>) storing blobs in <Dir>/zot/data,
// without authentication, serving plain HTTP on a free loopback port. It
// returns "127.0.0.1:PORT" once GET /v2/ answers 200. zot accepts OCI
// manifests only: Docker schema 2 media types are rejected.
func (e *Env) StartZot(ctx context.Context) (string, error) {
	if e.Tools.Zot == "" {
		return "", &MissingToolError{Missing: []string{ToolZot}, Dir: ToolsDir()}
	}
	name := e.uniqueName("zot")
	dir := filepath.Join(e.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return withPorts(1, func(ports []int) (string, error) {
		conf := filepath.Join(dir, "config.json")
		if err := writeZotConfig(conf, filepath.Join(dir, "data"), ports[0]); err != nil {
			return "", err
		}
		host := fmt.Sprintf("127.0.0.1:%d", ports[0])
		_, err := e.startInfra(ctx, name, httpOK("http://"+host+"/v2/", nil, nil), e.Tools.Zot, "serve", conf)
		if err != nil {
			return "", err
		}
		return host, nil
	})
}

func writeZotConfig(path, root string, port int) error {
	var c zotConfig
	c.DistSpecVersion = zotDistSpecVersion
	c.Storage.RootDirectory = root
	c.HTTP.Address = "127.0.0.1"
	c.HTTP.Port = strconv.Itoa(port)
	c.Log.Level = "info"
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
