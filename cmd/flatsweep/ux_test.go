package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runCLIEnv is runCLI with extra environment variables.
func runCLIEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	}
	t.Fatalf("%v: %v", args, err)
	return "", "", -1
}

// TestCoordinatorAddressErrors: the addresses users try that gRPC would
// misread or reject with its own words get a message naming the flag (or
// the environment variable) and the form to give; an unreachable
// coordinator is named with what to check.
func TestCoordinatorAddressErrors(t *testing.T) {
	for _, c := range []struct {
		env  []string
		args []string
		code int
		want string
	}{
		{nil, []string{"--coordinator", "http://coord-host:7070"}, 2, `--coordinator "http://coord-host:7070": give host:port without a scheme, e.g. coord-host:7070`},
		{nil, []string{"--coordinator", "127.0.0.1"}, 2, `--coordinator "127.0.0.1": no port: want host:port, e.g. 127.0.0.1:7070`},
		{nil, []string{"--coordinator", ":7070"}, 2, `no host: want host:port`},
		{nil, []string{"--coordinator", "127.0.0.1:70000"}, 2, `port "70000": want a number from 1 to 65535`},
		{[]string{"FLATSWEEP_COORDINATOR=coord-host"}, nil, 2, `$FLATSWEEP_COORDINATOR "coord-host": no port`},
		{nil, []string{"--coordinator", "127.0.0.1:1"}, 1, "cannot reach a coordinator at 127.0.0.1:1: is `flatsweep coordinator` running there"},
		{nil, []string{"--coordinator", "no-such-host.invalid:7070"}, 1, `the host name "no-such-host.invalid" resolves to no address`},
	} {
		_, errs, code := runCLIEnv(t, c.env, append([]string{"status"}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("status %v (env %v): exit %d, stderr %q; want exit %d and %q", c.args, c.env, code, errs, c.code, c.want)
		}
		if strings.Contains(errs, "rpc error: code =") {
			t.Errorf("status %v: raw gRPC text: %s", c.args, errs)
		}
	}
}

// TestCancelResubmitResume follows the README's order over real processes:
// cancel a sweep, submit it again with more seeds, resume. The submission
// says the sweep is cancelled, status shows it, nothing runs until resume,
// and resume runs every trial without a result — the cancelled ones and the
// new ones — once. The commands find the coordinator through
// $FLATSWEEP_COORDINATOR.
func TestCancelResubmitResume(t *testing.T) {
	dir := t.TempDir()
	coord, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "")
	env := []string{"FLATSWEEP_COORDINATOR=" + addr}
	two := writeSweep(t, e2eSweep1)
	if out, errs, code := runCLIEnv(t, env, "submit", two); code != 0 || !strings.Contains(out, "8 added") {
		t.Fatalf("submit: exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code := runCLIEnv(t, env, "cancel", "e2e"); code != 0 || !strings.Contains(out, "cancelled 8 [cancelled]") {
		t.Fatalf("cancel: exit %d\n%s%s", code, out, errs)
	}
	four := writeSweep(t, strings.Replace(e2eSweep1, "seed: [1, 2]", "seed: [1, 2, 3, 4]", 1))
	out, errs, code := runCLIEnv(t, env, "submit", four)
	if code != 0 || !strings.Contains(out, "16 trials, 8 added") || !strings.Contains(out, "the sweep is cancelled: its trials wait until `flatsweep resume e2e`") {
		t.Fatalf("resubmit to a cancelled sweep: exit %d\n%s%s", code, out, errs)
	}
	out, _, _ = runCLIEnv(t, env, "status")
	if !strings.Contains(out, "STATE") || !regexpLine(out, `^e2e\s+cancelled\s+16\s+8\s`) {
		t.Fatalf("status does not show the cancel:\n%s", out)
	}
	w := start(t, "worker", "--coordinator", addr, "--name", "w")
	w.waitLog(t, "registered with coordinator", 20*time.Second)
	time.Sleep(500 * time.Millisecond) // a cancelled sweep leases nothing
	if n := len(coord.find("trial succeeded")); n != 0 {
		t.Fatalf("%d trials of a cancelled sweep ran", n)
	}
	// The worker may lease a trial between the resume and the status line it
	// prints, so that line says "pending 16", or "pending 15, running 1", ….
	if out, errs, code := runCLIEnv(t, env, "resume", "e2e"); code != 0 || !strings.Contains(out, "16 trials: pending 1") || !strings.HasSuffix(strings.TrimSpace(out), "[active]") {
		t.Fatalf("resume: exit %d\n%s%s", code, out, errs)
	}
	c := client(t, addr)
	waitDone(t, c, "e2e", 2*time.Minute)
	succeededOnce(t, []*proc{coord}, allTrials(t, c, "e2e"))
	out, _, _ = runCLIEnv(t, env, "status", "e2e")
	if !regexpLine(out, `^e2e\s+done\s+16\s+16\s+succeeded 16`) {
		t.Fatalf("status after resume:\n%s", out)
	}
	if out, _, _ := runCLIEnv(t, env, "pause", "e2e"); !strings.Contains(out, "[done]") {
		t.Errorf("pause of a finished sweep: %s", out)
	}
	// A --where value outside the grid is an error, not an empty table.
	_, errs, code = runCLIEnv(t, env, "results", "e2e", "--where", "lr=0.3")
	if code != 2 || !strings.Contains(errs, "lr=0.3: no trial has lr 0.3; the sweep's values of lr are 0.05, 0.1") {
		t.Errorf("results --where lr=0.3: exit %d, %s", code, errs)
	}
	if out, errs, code := runCLIEnv(t, env, "results", "e2e", "--where", "lr=1e-1,0.05"); code != 0 || !strings.Contains(out, "0.1") {
		t.Errorf("results --where lr=1e-1,0.05: exit %d\n%s%s", code, out, errs)
	}
	// --exclude drops a learning rate: every group left is at the other one.
	if out, errs, code := runCLIEnv(t, env, "results", "e2e", "--exclude", "lr=0.05", "--group-by", "lr", "--format", "csv"); code != 0 ||
		strings.Contains(out, "\n0.05,") || !strings.Contains(out, "\n0.1,") {
		t.Errorf("results --exclude lr=0.05: exit %d\n%s%s", code, out, errs)
	}
}

// e2eSweep1 is e2eSweep with one epoch per trial.
var e2eSweep1 = fmt.Sprintf(e2eSweep, 1)

// regexpLine reports whether a line of out matches pattern.
func regexpLine(out, pattern string) bool {
	return regexp.MustCompile("(?m)" + pattern).MatchString(out)
}

// TestDashboardListenRules: the dashboard follows the coordinator's rule —
// beyond loopback only when callers are authenticated.
func TestDashboardListenRules(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	_, errs, code := runCLI(t, "coordinator", "--listen", "127.0.0.1:0", "--db", db, "--http", "0.0.0.0:0")
	if code != 2 || !strings.Contains(errs, "--http: refusing to listen beyond loopback without authenticating clients") {
		t.Errorf("--http 0.0.0.0:0 without tokens: exit %d, %s", code, errs)
	}
}
