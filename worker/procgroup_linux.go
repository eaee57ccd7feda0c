//go:build linux

package worker

import (
	"os"
	"os/exec"
	"syscall"
)

// Signals of a program's stop: SIGTERM first, SIGKILL after the grace period.
var (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// setProcessGroup makes the program the leader of a process group of its
// own, so that it and every process it starts can be signalled at once,
// and has it killed should the worker die before it (a worker killed with
// SIGKILL leaves no program running on).
func setProcessGroup(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group led by p.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	return syscall.Kill(-p.Pid, sig)
}
