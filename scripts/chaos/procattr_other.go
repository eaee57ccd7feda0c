//go:build !linux

package main

import "syscall"

// procAttr returns no special attributes: outside Linux a child of an
// interrupted run is not killed with the harness.
func procAttr() *syscall.SysProcAttr { return nil }
