package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// child is a flatsweep process started by the harness, its stderr (JSON
// logs) written to a file.
type child struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and its log is flushed
	exitErr error         // valid after done

	mu      sync.Mutex
	stopped bool        // SIGSTOPped and not yet continued
	cont    *time.Timer // the pending SIGCONT of a stop
	killed  bool        // the harness signalled it to end (SIGKILL or SIGTERM)
}

// startChild starts `bin args...` with JSON logs on stderr, appended to
// logPath; onLine, if not nil, sees every decoded log record as it is written.
func startChild(name, logPath, bin string, onLine func(map[string]any), args ...string) (*child, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	c := &child{name: name, logPath: logPath, done: make(chan struct{})}
	c.cmd = exec.Command(bin, append(args, "--log-format", "json", "--log-level", "info")...)
	c.cmd.SysProcAttr = procAttr()
	c.cmd.Stdout = f
	c.cmd.Stderr = &lineWriter{w: f, onLine: onLine}
	if err := c.cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.exitErr = c.cmd.Wait()
		_ = f.Close()
		close(c.done)
	}()
	return c, nil
}

// pid is the process ID.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// ending marks the process as ended on purpose and cancels a pending
// SIGCONT of a stop.
func (c *child) ending() {
	c.mu.Lock()
	c.killed = true
	if c.cont != nil {
		c.cont.Stop()
		c.cont = nil
	}
	c.stopped = false
	c.mu.Unlock()
}

// kill sends SIGKILL and waits for the process to end.
func (c *child) kill() {
	c.ending()
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// terminate sends SIGTERM (continuing a stopped process first) and waits up
// to grace for the process to end, then kills it. It reports whether the
// process ended by itself within grace.
func (c *child) terminate(grace time.Duration) bool {
	c.ending()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	_ = c.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-c.done:
		return true
	case <-time.After(grace):
		c.kill()
		return false
	}
}

// stop sends SIGSTOP and schedules SIGCONT after d.
func (c *child) stop(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.killed {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGSTOP)
	c.stopped = true
	c.cont = time.AfterFunc(d, c.resume)
}

// resume sends SIGCONT to a stopped process.
func (c *child) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cont != nil {
		c.cont.Stop()
		c.cont = nil
	}
	if c.stopped {
		_ = c.cmd.Process.Signal(syscall.SIGCONT)
		c.stopped = false
	}
}

// isStopped reports whether the process is SIGSTOPped.
func (c *child) isStopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// unexpected reports whether the process ended without the harness asking it to.
func (c *child) unexpected() bool {
	if !c.exited() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.killed
}

// lineWriter writes everything to w and hands each complete line, decoded as
// a JSON object, to onLine.
type lineWriter struct {
	w      io.Writer
	onLine func(map[string]any)
	buf    []byte
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	n, err := lw.w.Write(p)
	if lw.onLine == nil {
		return n, err
	}
	lw.buf = append(lw.buf, p...)
	for {
		i := bytes.IndexByte(lw.buf, '\n')
		if i < 0 {
			break
		}
		var rec map[string]any
		if json.Unmarshal(lw.buf[:i], &rec) == nil {
			lw.onLine(rec)
		}
		lw.buf = lw.buf[i+1:]
	}
	return n, err
}
