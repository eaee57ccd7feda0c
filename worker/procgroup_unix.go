//go:build unix && !linux

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
// own, so that it and every process it starts can be signalled at once.
func setProcessGroup(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends sig to the process group led by p.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	return syscall.Kill(-p.Pid, sig)
}
