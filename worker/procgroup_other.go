//go:build !unix

package worker

import (
	"os"
	"os/exec"
)

// Signals of a program's stop; without process groups both kill the
// program itself.
var (
	sigTerm = os.Kill
	sigKill = os.Kill
)

// setProcessGroup does nothing where there are no process groups.
func setProcessGroup(*exec.Cmd) {}

// signalGroup signals the program itself.
func signalGroup(p *os.Process, sig os.Signal) error { return p.Signal(sig) }
