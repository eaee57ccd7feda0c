package main

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// ptyProc is a flatsweep process on a pseudo-terminal of 80 columns.
type ptyProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
	tty  io.Writer
}

func startPTY(t *testing.T, args ...string) *ptyProc {
	t.Helper()
	p := &ptyProc{cmd: exec.Command(binary, args...), done: make(chan error, 1)}
	f, err := pty.StartWithSize(p.cmd, &pty.Winsize{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	p.tty = f
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { err := p.cmd.Wait(); <-read; p.done <- err }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); f.Close() })
	return p
}

func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the output holds want.
func (p *ptyProc) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.output(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q on the terminal within 30s:\n%q", want, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exit waits for the process and returns its exit code.
func (p *ptyProc) exit(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(2 * time.Minute):
		t.Fatalf("still running; terminal:\n%q", p.output())
		return -1
	}
}

// TestWatchInATerminal runs watch on an 80-column pseudo-terminal through a
// pause, a resume and the sweep to its end: every redraw fits in 79 columns
// (the terminal never wraps or scrolls), a paused sweep shows no time left,
// the progress advances to 8/8 and watch exits 0 when the sweep is done.
// A second watch ended with Ctrl-C exits 0 without an error.
func TestWatchInATerminal(t *testing.T) {
	dir := t.TempDir()
	_, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "")
	const name = "a-sweep-named-at-length-for-an-eighty-column-terminal"
	if _, errs, code := runCLI(t, "submit", writeSweep(t, strings.Replace(e2eSweep1, "name: e2e", "name: "+name, 1)), "--coordinator", addr); code != 0 {
		t.Fatal(errs)
	}
	if _, errs, code := runCLI(t, "pause", name, "--coordinator", addr); code != 0 {
		t.Fatal(errs)
	}
	w := startPTY(t, "watch", name, "--coordinator", addr)
	w.waitFor(t, "[paused]  eta —")
	if _, errs, code := runCLI(t, "resume", name, "--coordinator", addr); code != 0 {
		t.Fatal(errs)
	}
	start(t, "worker", "--coordinator", addr, "--name", "w")
	if code := w.exit(t); code != 0 {
		t.Fatalf("watch exited %d:\n%q", code, w.output())
	}
	out := w.output()
	frames := strings.Split(strings.TrimRight(out, "\r\n"), "\r\x1b[K")
	if len(frames) < 3 {
		t.Fatalf("want a redraw per change, got %d frames:\n%q", len(frames), out)
	}
	for _, f := range frames[1:] {
		if n := utf8.RuneCountInString(f); n > 79 || strings.ContainsAny(f, "\r\n") {
			t.Errorf("frame of %d columns (or with a line break) on an 80-column terminal: %q", n, f)
		}
	}
	last := frames[len(frames)-1]
	if !strings.Contains(last, "8/8") || !strings.Contains(last, "[done]") || strings.Contains(last, "eta") {
		t.Errorf("last frame %q, want 8/8 and [done] without a time left", last)
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("watch did not end its line: %q", out)
	}

	// Ctrl-C on a sweep that will not finish (paused).
	if _, errs, code := runCLI(t, "submit", writeSweep(t, strings.Replace(e2eSweep1, "name: e2e", "name: other", 1)), "--coordinator", addr); code != 0 {
		t.Fatal(errs)
	}
	runCLI(t, "pause", "other", "--coordinator", addr)
	c := startPTY(t, "watch", "other", "--coordinator", addr)
	c.waitFor(t, "[paused]")
	if _, err := c.tty.Write([]byte{3}); err != nil { // ^C
		t.Fatal(err)
	}
	if code := c.exit(t); code != 0 || strings.Contains(c.output(), "Canceled") {
		t.Fatalf("watch after Ctrl-C: exit %d:\n%q", code, c.output())
	}
}

// TestProgressLine: the line fits the columns it is given, down to a bar of
// minBar cells, says paused/cancelled/done instead of a time left, and has
// a full bar without a width.
func TestProgressLine(t *testing.T) {
	sw := &pb.Sweep{Id: "a-sweep-with-a-long-name", TrialCount: 400,
		StateCounts: map[string]int32{"succeeded": 100, "running": 50, "pending": 250}}
	r := &pb.WatchSweepResponse{Sweep: sw, TrialsPerSecond: 2.5, Remaining: durationpb.New(2 * time.Minute)}
	for _, cols := range []int{200, 80, 60, 40} {
		line := progressLine(r, cols)
		if n := utf8.RuneCountInString(line); n > cols-1 {
			t.Errorf("%d columns: line of %d: %q", cols, n, line)
		}
	}
	if got := progressLine(r, 80); !strings.Contains(got, "100/400") || !strings.Contains(got, "2.50 trials/s  eta 2m0s") {
		t.Errorf("80 columns: %q", got)
	}
	if got := progressLine(r, 0); !strings.Contains(got, "["+strings.Repeat("█", 10)+strings.Repeat("▒", 5)+strings.Repeat("·", 25)+"]") {
		t.Errorf("unlimited: %q", got)
	}
	sw.Paused = true
	if got := progressLine(r, 0); !strings.Contains(got, "[paused]  eta —") || strings.Contains(got, "2m0s") {
		t.Errorf("paused: %q", got)
	}
	sw.Cancelled = true
	if got := progressLine(r, 0); !strings.HasSuffix(got, "[cancelled]") {
		t.Errorf("cancelled: %q", got)
	}
}
