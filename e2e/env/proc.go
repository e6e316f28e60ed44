package env

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrExited is wrapped by a *WaitError when the process exited before it
// became ready.
var ErrExited = errors.New("process exited")

// StopGrace is how long Proc.Stop waits after SIGTERM before SIGKILL.
const StopGrace = 5 * time.Second

// Proc is a child process started by an Env.
type Proc struct {
	Name string
	Log  string // path of the log file (stdout and stderr)

	cmd      *exec.Cmd
	logStart int64 // offset of this run's output in Log
	grace    time.Duration
	done     chan struct{}
	waitErr  error // valid once done is closed
	stopOnce sync.Once
	stopErr  error
}

func startProc(name, logPath string, cmd *exec.Cmd, grace time.Duration) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child holds its own copy
	fmt.Fprintf(f, "=== %s: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(cmd.Args, " "))
	off, _ := f.Seek(0, io.SeekEnd)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Log: logPath, cmd: cmd, logStart: off, grace: grace, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process id, which is also its process group id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM to the process group, SIGKILL after StopGrace, and
// waits for the exit (etcd, kube-apiserver and the registries get SIGKILL at
// once: they hold nothing worth a clean shutdown). It is
// idempotent. It returns nil unless the process had already exited on its
// own with a failure.
func (p *Proc) Stop() error {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			if p.waitErr != nil {
				p.stopErr = errorf("%s exited on its own: %w\n%s", p.Name, p.waitErr, p.LogTail())
			}
		default:
			if p.grace > 0 {
				p.signal(syscall.SIGTERM)
				select {
				case <-p.done:
				case <-time.After(p.grace):
				}
			}
		}
		p.signal(syscall.SIGKILL) // the leader or anything it left behind
		<-p.done
	})
	return p.stopErr
}

func (p *Proc) signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.Pid(), sig) // ESRCH when the group is already gone
}

// LogTail returns the last lines this run of the process wrote.
func (p *Proc) LogTail() string {
	const max = 4096
	f, err := os.Open(p.Log)
	if err != nil {
		return ""
	}
	defer f.Close()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return ""
	}
	start := max64(p.logStart, end-max)
	buf := make([]byte, end-start)
	n, _ := f.ReadAt(buf, start)
	s := string(buf[:n])
	if start > p.logStart {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return s
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// waitReady polls ready until it passes, ctx ends, or the process exits.
func (p *Proc) waitReady(ctx context.Context, what string, ready func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-p.done:
			cancel(fmt.Errorf("%w: %v", ErrExited, p.exitStatus()))
		case <-ctx.Done():
		}
	}()
	err := WaitFor(ctx, what, ready)
	var we *WaitError
	if errors.As(err, &we) {
		if cause := context.Cause(ctx); errors.Is(cause, ErrExited) {
			we.Err = fmt.Errorf("%w (last probe error: %v)", cause, we.Err)
		}
		we.LogTail = p.LogTail()
	}
	return err
}

func (p *Proc) exitStatus() string {
	if p.waitErr == nil {
		return "exit status 0"
	}
	return p.waitErr.Error()
}

// WaitError is returned by WaitFor and Start when something did not become
// ready in time.
type WaitError struct {
	What    string
	Elapsed time.Duration
	Err     error  // last probe error, or why waiting stopped
	LogTail string // tail of the process log, when a process is involved
}

func (e *WaitError) Error() string {
	s := fmt.Sprintf("env: %s not ready after %v: %v", e.What, e.Elapsed.Round(time.Millisecond), e.Err)
	if e.LogTail != "" {
		s += "\n--- log tail ---\n" + e.LogTail
	}
	return s
}

func (e *WaitError) Unwrap() error { return e.Err }

func (e *WaitError) portInUse() bool {
	return strings.Contains(e.LogTail, "address already in use")
}

// WaitFor calls probe until it returns nil or ctx ends, with a short
// growing pause between calls (10 ms up to 250 ms). Each call gets at most
// 2 s. On failure it returns a *WaitError holding the last probe error.
func WaitFor(ctx context.Context, what string, probe func(ctx context.Context) error) error {
	start := time.Now()
	pause := 10 * time.Millisecond
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := probe(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if last == nil || ctx.Err() == nil { // keep the error from before the end
			last = err
		}
		select {
		case <-ctx.Done():
			return &WaitError{What: what, Elapsed: time.Since(start), Err: last}
		case <-time.After(pause):
		}
		pause = min(pause*3/2, 250*time.Millisecond)
	}
}
