package env

import "syscall"

// sysProcAttr puts the child in its own process group (so Stop reaches its
// children too) and has the kernel kill it if the thread that started it
// dies, so a crashed test leaves nothing behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
