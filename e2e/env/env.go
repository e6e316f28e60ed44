// Package env starts real components (etcd, kube-apiserver, an OCI
// registry, and any other binary such as gatehouse itself) on loopback as
// child processes for end-to-end tests and demos.
//
// Every process runs in its own process group with its output in
// <Dir>/<name>.log. Start-up waits by probing readiness, never by sleeping a
// fixed time. Env.Close stops everything; a crashed parent takes its
// children along (Linux parent-death signal).
package env

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// DefaultStartTimeout bounds a start-up whose context has no deadline.
const DefaultStartTimeout = 2 * time.Minute

// ErrClosed is returned when starting a process on a closed Env.
var ErrClosed = errors.New("env: closed")

// Env owns the processes started through it. Its zero value is not usable;
// call New.
type Env struct {
	Dir   string // work directory: logs, data, configs
	Tools Tools

	mu     sync.Mutex
	procs  []*Proc
	names  map[string]int
	closed bool
	once   sync.Once
	err    error
}

// New returns an Env that keeps its files in dir (created if needed).
func New(dir string, tools Tools) *Env {
	return &Env{Dir: dir, Tools: tools, names: map[string]int{}}
}

// Procs returns the processes started so far, in start order.
func (e *Env) Procs() []*Proc {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Proc(nil), e.procs...)
}

// Close stops all processes in reverse start order. It is idempotent and
// returns the errors of processes that had exited on their own with a
// failure (a crash during the test).
func (e *Env) Close() error {
	e.once.Do(func() {
		e.mu.Lock()
		e.closed = true
		procs := e.procs
		e.mu.Unlock()
		var errs []error
		for i := len(procs) - 1; i >= 0; i-- {
			errs = append(errs, procs[i].Stop())
		}
		e.err = errors.Join(errs...)
	})
	return e.err
}

// Start runs bin with args as the process name and waits until ready
// returns nil (ready may be nil). See StartCmd.
func (e *Env) Start(ctx context.Context, name string, ready func(context.Context) error, bin string, args ...string) (*Proc, error) {
	return e.StartCmd(ctx, name, exec.Command(bin, args...), ready)
}

// StartCmd starts cmd (whose Env and Dir the caller may set; Stdout,
// Stderr and SysProcAttr are set here) as the process name, logging to
// <Dir>/<name>.log, and polls ready with WaitFor. If the process exits or
// ready fails to pass before ctx ends (DefaultStartTimeout if ctx has no
// deadline), it is stopped and a *WaitError is returned.
func (e *Env) StartCmd(ctx context.Context, name string, cmd *exec.Cmd, ready func(context.Context) error) (*Proc, error) {
	return e.startCmd(ctx, name, cmd, ready, StopGrace)
}

// startInfra starts a component that needs no graceful shutdown: Stop
// kills it at once.
func (e *Env) startInfra(ctx context.Context, name string, ready func(context.Context) error, bin string, args ...string) (*Proc, error) {
	return e.startCmd(ctx, name, exec.Command(bin, args...), ready, 0)
}

func (e *Env) startCmd(ctx context.Context, name string, cmd *exec.Cmd, ready func(context.Context) error, grace time.Duration) (*Proc, error) {
	p, err := e.spawn(name, cmd, grace)
	if err != nil {
		return nil, err
	}
	if ready == nil {
		return p, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	if err := p.waitReady(ctx, name, ready); err != nil {
		e.forget(p)
		p.Stop() // the error returned here already says how it ended
		return nil, err
	}
	return p, nil
}

func (e *Env) spawn(name string, cmd *exec.Cmd, grace time.Duration) (*Proc, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		return nil, err
	}
	p, err := startProc(name, e.logPath(name), cmd, grace)
	if err != nil {
		return nil, err
	}
	e.procs = append(e.procs, p)
	return p, nil
}

func (e *Env) logPath(name string) string { return filepath.Join(e.Dir, name+".log") }

// forget drops p, whose start failed and was reported, from Close's list.
func (e *Env) forget(p *Proc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, q := range e.procs {
		if q == p {
			e.procs = append(e.procs[:i], e.procs[i+1:]...)
			return
		}
	}
}

// uniqueName returns base, then base-2, base-3... so that two components
// of the same kind in one Env get separate logs and directories.
func (e *Env) uniqueName(base string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.names[base]++
	if n := e.names[base]; n > 1 {
		return base + "-" + strconv.Itoa(n)
	}
	return base
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	if n == 2 && ports[0] == ports[1] {
		return freePorts(n)
	}
	return ports, nil
}

// withPorts runs start with n fresh loopback ports, retrying with new ones
// when the process died because a port was taken in the meantime.
func withPorts[T any](n int, start func(ports []int) (T, error)) (T, error) {
	var zero T
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(n)
		if err != nil {
			return zero, err
		}
		v, err := start(ports)
		var we *WaitError
		if attempt < 3 && errors.As(err, &we) && errors.Is(err, ErrExited) && we.portInUse() {
			continue
		}
		return v, err
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf("env: "+format, args...) }
