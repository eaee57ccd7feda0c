package main

import "syscall"

// procAttr makes a child die with the harness (it is sent SIGKILL when the
// harness exits), so that no flatsweep process outlives an interrupted run.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
