//go:build unix && !linux

package env

import "syscall"

// sysProcAttr puts the child in its own process group. Outside Linux there
// is no parent-death signal: a crashed test may leave processes behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
