package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// python3 returns the interpreter the stand-in trainer runs on (any Python
// 3: the helper needs only the standard library), skipping without one.
func python3(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("command-trial tests skipped: no python3 in PATH")
	}
	return py
}

// abs returns the absolute path of a file of the repository, relative to
// this package's directory.
func abs(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// commandSweep is a one-axis-per-line sweep running the stand-in trainer in
// mode; extra is appended to the command section.
func commandSweep(t *testing.T, name, mode string, trials int, extra string) string {
	t.Helper()
	lrs := []string{"0.1", "0.2", "0.3", "0.4"}[:trials]
	return fmt.Sprintf(`name: %s
dataset: {name: synthetic, n: 256, n_test: 128}
train: {epochs: 3}
command:
  argv: [%q, %q, %q, "{lr}", "{batch_size}", %q]
  env: ["PYTHONPATH=%s"]
%sgrid: {batch_size: [16], lr: [%s], seed: [1]}
`, name, python3(t), abs(t, "testdata/standin_trainer.py"), mode, t.TempDir(), abs(t, "../../python"), extra, strings.Join(lrs, ", "))
}

// markerDir returns the marker directory (the last argument) of a sweep
// written by commandSweep.
func markerDir(body string) string {
	line := body[strings.Index(body, "argv: ["):]
	line = line[:strings.Index(line, "]")]
	parts := strings.Split(line, ", ")
	d, _ := strconv.Unquote(parts[len(parts)-1])
	return d
}

func submitBody(t *testing.T, addr, body string) {
	t.Helper()
	if _, errs, code := runCLI(t, "submit", writeSweep(t, body), "--coordinator", addr); code != 0 {
		t.Fatalf("submit: exit %d: %s", code, errs)
	}
}

func logsOf(t *testing.T, c pb.SweepServiceClient, sweep, trial string) []*pb.CommandLog {
	t.Helper()
	resp, err := c.Logs(context.Background(), &pb.LogsRequest{SweepId: sweep, TrialId: trial})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Logs
}

// TestCommandSweepCompletes: a sweep of the user's own program on two worker
// processes records every trial once, with the program's curve, result and
// named metrics, marked external, and its output retrievable by
// `flatsweep logs`; GPU trials wait for a worker with GPUs and get one.
func TestCommandSweepCompletes(t *testing.T) {
	dir := t.TempDir()
	coord, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "")
	// A worker that does not run commands is leased none.
	plain := start(t, "worker", "--coordinator", addr, "--name", "plain")
	plain.waitLog(t, "registered with coordinator", 20*time.Second)
	submitBody(t, addr, commandSweep(t, "cmd-ok", "ok", 4, ""))
	c := client(t, addr)
	time.Sleep(2 * time.Second)
	for _, tr := range allTrials(t, c, "cmd-ok") {
		if tr.State != pb.TrialState_TRIAL_STATE_PENDING {
			t.Fatalf("trial %s is %v with only a worker without --allow-commands, want pending", tr.Id, tr.State)
		}
	}
	for _, name := range []string{"one", "two"} {
		start(t, "worker", "--coordinator", addr, "--allow-commands", "--name", name, "--slots", "2")
	}
	waitDone(t, c, "cmd-ok", 2*time.Minute)
	trials := allTrials(t, c, "cmd-ok")
	if len(trials) != 4 {
		t.Fatalf("%d trials, want 4", len(trials))
	}
	succeededOnce(t, []*proc{coord}, trials)
	for _, tr := range trials {
		r := tr.Result
		if r == nil {
			continue
		}
		if !r.External {
			t.Errorf("trial %s: result not marked external", tr.Id)
		}
		if len(r.Curve) != 3 || r.Curve[2].Epoch != 3 || r.Curve[2].Step != 30 {
			t.Errorf("trial %s: curve %v, want epochs 1…3 with step 30 last", tr.Id, r.Curve)
		}
		lr := r.Curve[0].Lr
		if want := 1 / (1 + 3*lr*10); r.TrainLoss != want {
			t.Errorf("trial %s: train_loss %v, want %v (the program's final loss)", tr.Id, r.TrainLoss, want)
		}
		if got, want := r.Measures["fake_metric"], lr*16; got != want {
			t.Errorf("trial %s: fake_metric %v, want %v", tr.Id, got, want)
		}
		if r.LambdaMax != 0 || r.Hvps != 0 {
			t.Errorf("trial %s: λ₁ %v with %d products, want none measured without a model section", tr.Id, r.LambdaMax, r.Hvps)
		}
		logs := logsOf(t, c, "cmd-ok", tr.Id)
		if len(logs) != 1 || logs[0].ExitCode != 0 || logs[0].Attempt != 1 ||
			!strings.Contains(string(logs[0].Stdout), "standin: trial "+tr.Id+" attempt 1") {
			t.Errorf("trial %s: logs %v, want attempt 1 with the program's stdout", tr.Id, logs)
		}
	}
	out, errs, code := runCLI(t, "logs", trials[0].Id, "--coordinator", addr)
	if code != 0 || !strings.Contains(out, "=== attempt 1 on worker") || !strings.Contains(out, "standin: trial "+trials[0].Id) {
		t.Errorf("flatsweep logs: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if _, errs, code := runCLI(t, "logs", "t-nonesuch", "--coordinator", addr); code != 2 || !strings.Contains(errs, `trial "t-nonesuch": not found`) {
		t.Errorf("flatsweep logs of an unknown trial: exit %d, %q; want 2 naming it", code, errs)
	}
	out, errs, code = runCLI(t, "results", "cmd-ok", "--coordinator", addr)
	if code != 0 || !strings.Contains(out, "note: 4 trials are results of an external program") {
		t.Errorf("flatsweep results: exit %d, stdout %q, stderr %q; want the external note", code, out, errs)
	}
	out, errs, code = runCLI(t, "export", "cmd-ok", "--coordinator", addr, "--out", filepath.Join(dir, "t.csv"))
	if code != 0 {
		t.Fatalf("export: %s %s", out, errs)
	}
	csv, err := os.ReadFile(filepath.Join(dir, "t.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	head := strings.Split(lines[0], ",")
	col := -1
	for i, h := range head {
		if h == "external" {
			col = i
		}
	}
	if col < 0 || len(lines) != 5 {
		t.Fatalf("export: %d lines, header %q: want 4 trials and an external column", len(lines), lines[0])
	}
	for _, l := range lines[1:] {
		if cells := strings.Split(l, ","); cells[col] != "true" {
			t.Errorf("export row %q: external = %q, want true", l, cells[col])
		}
	}

	// A trial needing a GPU is not leased to the workers without one.
	submitBody(t, addr, commandSweep(t, "cmd-gpu", "ok", 1, "  gpus: 1\n"))
	time.Sleep(2 * time.Second)
	if tr := allTrials(t, c, "cmd-gpu"); tr[0].State != pb.TrialState_TRIAL_STATE_PENDING {
		t.Fatalf("GPU trial is %v on workers without GPUs, want pending", tr[0].State)
	}
	start(t, "worker", "--coordinator", addr, "--allow-commands", "--name", "gpu", "--gpus", "2")
	waitDone(t, c, "cmd-gpu", 2*time.Minute)
	tr := allTrials(t, c, "cmd-gpu")[0]
	logs := logsOf(t, c, "cmd-gpu", tr.Id)
	if tr.State != pb.TrialState_TRIAL_STATE_SUCCEEDED || len(logs) != 1 || !strings.Contains(string(logs[0].Stdout), "CUDA_VISIBLE_DEVICES=0\n") {
		t.Errorf("GPU trial: state %v, logs %v; want success on the GPU worker with CUDA_VISIBLE_DEVICES=0", tr.State, logs)
	}
	if w := tr.Attempts[len(tr.Attempts)-1].WorkerId; logs[0].WorkerId != w {
		t.Errorf("GPU trial ran on %s, log says %s", w, logs[0].WorkerId)
	}
	out, errs, code = runCLI(t, "status", "--coordinator", addr)
	caps := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 5 && strings.HasPrefix(f[0], "w-") {
			caps[f[1]] = f[3] + " " + f[4]
		}
	}
	if code != 0 || caps["plain"] != "0 no" || caps["one"] != "0 yes" || caps["gpu"] != "2 yes" {
		t.Errorf("status: exit %d, workers' GPUS COMMANDS %v, want plain 0 no, one 0 yes, gpu 2 yes\n%s%s", code, caps, out, errs)
	}
}

// TestCommandFailures: a program that exits non-zero, hangs past its
// timeout, writes garbage metrics, writes a result that is not JSON or
// lacks a field, writes none, or does not exist fails its attempts with a
// reason naming what went wrong (and the end of its standard error), each
// attempt's log stored; a program that fails once succeeds on its retry.
func TestCommandFailures(t *testing.T) {
	dir := t.TempDir()
	_, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "", "--max-attempts", "2")
	for _, name := range []string{"one", "two"} {
		start(t, "worker", "--coordinator", addr, "--allow-commands", "--name", name, "--slots", "2", "--kill-grace", "1s")
	}
	cases := []struct {
		name, mode, extra string
		state             pb.TrialState
		reason            []string
		attempts          int
	}{
		{"exit", "fail", "", pb.TrialState_TRIAL_STATE_DISCARDED, []string{"exited with status 3", "standin: simulated failure"}, 2},
		{"hang", "hang", "  timeout: 1s\n", pb.TrialState_TRIAL_STATE_DISCARDED, []string{"timed out after 1s (command.timeout)"}, 2},
		{"garbage", "garbage", "", pb.TrialState_TRIAL_STATE_DISCARDED, []string{"metrics (fd 3) line 2: not a JSON object of epoch metrics", "this is not json"}, 2},
		{"badjson", "badjson", "", pb.TrialState_TRIAL_STATE_DISCARDED, []string{"result.json is not valid JSON"}, 2},
		{"missing", "missing", "", pb.TrialState_TRIAL_STATE_DISCARDED, []string{`result.json: missing "test_acc"`}, 2},
		{"noresult", "noresult", "", pb.TrialState_TRIAL_STATE_DISCARDED, []string{"wrote no result.json"}, 2},
		{"flaky", "flaky", "", pb.TrialState_TRIAL_STATE_SUCCEEDED, nil, 2},
	}
	for _, cs := range cases {
		submitBody(t, addr, commandSweep(t, "cmd-"+cs.name, cs.mode, 1, cs.extra))
	}
	nonesuch := strings.Replace(commandSweep(t, "cmd-nonesuch", "ok", 1, ""), fmt.Sprintf("%q", python3(t)), `"flatsweep-no-such-program"`, 1)
	submitBody(t, addr, nonesuch)
	cases = append(cases, struct {
		name, mode, extra string
		state             pb.TrialState
		reason            []string
		attempts          int
	}{"nonesuch", "", "", pb.TrialState_TRIAL_STATE_DISCARDED, []string{`command "flatsweep-no-such-program" not found on this worker`}, 2})
	c := client(t, addr)
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			sweep := "cmd-" + cs.name
			waitDone(t, c, sweep, 2*time.Minute)
			tr := allTrials(t, c, sweep)[0]
			if tr.State != cs.state || int(tr.Attempt) != cs.attempts {
				t.Fatalf("state %v after %d attempts, want %v after %d (last error %q)", tr.State, tr.Attempt, cs.state, cs.attempts, tr.LastError)
			}
			for _, want := range cs.reason {
				if !strings.Contains(tr.LastError, want) {
					t.Errorf("reason %q does not say %q", tr.LastError, want)
				}
			}
			if tr.PermanentFailure {
				t.Errorf("failure marked permanent: a program's failure is retried")
			}
			logs := logsOf(t, c, sweep, tr.Id)
			if len(logs) != cs.attempts {
				t.Fatalf("%d logs, want one per attempt (%d)", len(logs), cs.attempts)
			}
			for i, l := range logs {
				if int(l.Attempt) != i+1 {
					t.Errorf("log %d is of attempt %d", i, l.Attempt)
				}
			}
			if cs.state == pb.TrialState_TRIAL_STATE_SUCCEEDED {
				if logs[0].ExitCode != 4 || logs[1].ExitCode != 0 || !strings.Contains(logs[0].Outcome, "exited with status 4") {
					t.Errorf("flaky logs: exit %d (%q) then %d; want 4 then 0", logs[0].ExitCode, logs[0].Outcome, logs[1].ExitCode)
				}
				return
			}
			if logs[1].Outcome != tr.LastError {
				t.Errorf("last log's outcome %q, want the trial's last error %q", logs[1].Outcome, tr.LastError)
			}
		})
	}
	// The logs are in the database: a copy has them.
	copyDB := filepath.Join(dir, "copy.db")
	if _, errs, code := runCLI(t, "backup", copyDB, "--coordinator", addr); code != 0 {
		t.Fatalf("backup: %s", errs)
	}
	flaky := allTrials(t, c, "cmd-flaky")[0].Id
	out, errs, code := runCLI(t, "logs", flaky, "--db", copyDB, "--attempt", "1", "--stream", "stderr")
	if code != 0 || out != "standin: first attempt fails\n" {
		t.Errorf("logs --db --attempt 1 --stream stderr: exit %d, %q, %q", code, out, errs)
	}
	if _, errs, code := runCLI(t, "logs", flaky, "--db", copyDB, "--stream", "all"); code != 2 || !strings.Contains(errs, "--stream") {
		t.Errorf("logs --stream all: exit %d, %q; want 2 naming the flag", code, errs)
	}
}

// processGone reports whether pid no longer runs (exited, or a zombie
// waiting for a reaper).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] == "Z"
}

// TestCommandCancelStopsProcessGroup: cancelling a sweep stops its running
// program's whole process group, the process it started included.
func TestCommandCancelStopsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	_, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "")
	w := start(t, "worker", "--coordinator", addr, "--allow-commands", "--name", "one", "--kill-grace", "2s")
	body := commandSweep(t, "cmd-cancel", "grandchild", 1, "")
	submitBody(t, addr, body)
	marker := markerDir(body)
	var pid int
	deadline := time.Now().Add(time.Minute)
	for pid == 0 && time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(marker, "grandchild-*.pid"))
		if len(files) == 1 {
			b, _ := os.ReadFile(files[0])
			pid, _ = strconv.Atoi(string(b))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("the program did not start its child within a minute")
	}
	if processGone(pid) {
		t.Fatal("the child is gone before the cancel")
	}
	if _, errs, code := runCLI(t, "cancel", "cmd-cancel", "--coordinator", addr); code != 0 {
		t.Fatal(errs)
	}
	w.waitLog(t, "trial stopped: "+wire.CancelledReason, 30*time.Second)
	deadline = time.Now().Add(30 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the program's child %d still runs 30 s after the cancel", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := client(t, addr)
	tr := allTrials(t, c, "cmd-cancel")[0]
	if tr.State != pb.TrialState_TRIAL_STATE_CANCELLED {
		t.Errorf("state %v, want cancelled", tr.State)
	}
	// The stopped attempt's output is stored all the same.
	deadline = time.Now().Add(20 * time.Second)
	for {
		logs := logsOf(t, c, "cmd-cancel", tr.Id)
		if len(logs) == 1 {
			if logs[0].Attempt != 1 || logs[0].Outcome != "stopped: "+wire.CancelledReason || !strings.Contains(string(logs[0].Stdout), "standin: trial "+tr.Id) {
				t.Errorf("log of the cancelled attempt: %v", logs[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log of the cancelled attempt within 20 s: %v", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCommandKilledWithWorker: a program whose worker is killed dies with
// it, and its trial's lease expires and is run again by another worker.
func TestCommandKilledWithWorker(t *testing.T) {
	dir := t.TempDir()
	coord, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "", "--lease-ttl", "1s")
	doomed := start(t, "worker", "--coordinator", addr, "--allow-commands", "--name", "doomed")
	doomed.waitLog(t, "registered with coordinator", 20*time.Second)
	submitBody(t, addr, commandSweep(t, "cmd-kill", "slow", 1, ""))
	doomed.waitLog(t, "trial started", 20*time.Second)
	// The program's epochs reach the coordinator with the heartbeats, while
	// it runs.
	c := client(t, addr)
	deadline := time.Now().Add(30 * time.Second)
	for {
		tr := allTrials(t, c, "cmd-kill")[0]
		if tr.State == pb.TrialState_TRIAL_STATE_RUNNING && len(tr.Curve) > 0 {
			if tr.Curve[0].Epoch != 1 || tr.Curve[0].Step != 10 {
				t.Fatalf("streamed epoch %v, want epoch 1 at step 10", tr.Curve[0])
			}
			break
		}
		// (Pending until the lease's write-behind lands.)
		if (tr.State != pb.TrialState_TRIAL_STATE_RUNNING && tr.State != pb.TrialState_TRIAL_STATE_PENDING) || time.Now().After(deadline) {
			t.Fatalf("trial %v with curve %v: no epoch streamed while it ran", tr.State, tr.Curve)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := doomed.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	coord.waitLog(t, "lease expired", 20*time.Second)
	start(t, "worker", "--coordinator", addr, "--allow-commands", "--name", "rescuer")
	waitDone(t, c, "cmd-kill", 2*time.Minute)
	trials := allTrials(t, c, "cmd-kill")
	succeededOnce(t, []*proc{coord}, trials)
	if trials[0].Attempt != 2 {
		t.Errorf("attempt %d, want 2 (the killed one and the rescue)", trials[0].Attempt)
	}
	if logs := logsOf(t, c, "cmd-kill", trials[0].Id); len(logs) != 1 || logs[0].Attempt != 2 {
		t.Errorf("logs %v: want only the rescue's (attempt 2; the killed worker uploaded none)", logs)
	}
}

// TestCommandBadInput: a template naming no axis or field, and a command
// section without a program, are rejected at submission, exit 2, naming
// the field, and nothing is stored.
func TestCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	_, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "")
	good := commandSweep(t, "cmd-bad", "ok", 1, "")
	for _, c := range []struct{ body, want string }{
		{strings.Replace(good, `"{batch_size}"`, `"{batch_sise}"`, 1), `sweep.yaml:5: command.argv[4] = "{batch_sise}"`},
		{strings.Replace(good, `"{batch_size}"`, `"{batch_sise}"`, 1), `placeholder {batch_sise} names no grid axis or trial field`},
		{strings.Replace(good, `"{lr}"`, `"{optimizer.momentun}"`, 1), `placeholder {optimizer.momentun}`},
		{strings.Replace(good, `"{lr}"`, `"{lr"`, 1), `unterminated placeholder`},
		{strings.Replace(good, "  env: [", "  timeout: soon\n  env: [", 1), `command.timeout`},
		{strings.Replace(good, "  argv: [", "  argx: [", 1), `command.argx`},
		{strings.Replace(good, "  env: [", "  slots: 0\n  env: [", 1), `command.slots = 0`},
		{strings.Replace(good, "  env: [", "  slots: 2000\n  env: [", 1), `in 1…1024`},
	} {
		_, errs, code := runCLI(t, "submit", writeSweep(t, c.body), "--coordinator", addr)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("submit: exit %d, stderr %q; want 2 naming %q", code, errs, c.want)
		}
	}
	resp, err := client(t, addr).ListSweeps(context.Background(), &pb.ListSweepsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Sweeps) != 0 {
		t.Errorf("%d sweeps stored after rejected submissions, want none", len(resp.Sweeps))
	}
	// flatsweep run checks the sweep before it runs anything.
	db := filepath.Join(dir, "run.db")
	body := strings.Replace(good, "  env: [", "  slots: 0\n  env: [", 1)
	if _, errs, code := runCLI(t, "run", writeSweep(t, body), "--db", db); code != 2 || !strings.Contains(errs, "command.slots = 0") {
		t.Errorf("run: exit %d, stderr %q; want 2 naming command.slots", code, errs)
	}
}

// torchPython is the interpreter with PyTorch (Debian's python3-torch
// installs into the system Python), skipping where there is none.
func torchPython(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("PyTorch example skipped: %s cannot import torch (install python3-torch): %v %s", py, err, out)
	}
	return py
}

// TestPyTorchExample: examples/pytorch/train_mlp.py, swept on a worker
// process, trains on the data flatsweep hands it, and flatsweep measures
// the curvature of the weights it wrote: λ₁ is stored with the result and
// is exactly what `flatsweep hessian` measures on the same weights file.
func TestPyTorchExample(t *testing.T) {
	py := torchPython(t)
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	_, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "")
	start(t, "worker", "--coordinator", addr, "--allow-commands", "--name", "torch", "--keep-work", "--work-dir", work)
	submitBody(t, addr, fmt.Sprintf(`name: cmd-torch
dataset: {name: synthetic, n: 256, n_test: 256, seed: 2}
model: {arch: mlp, hidden: [16]}
train: {epochs: 3}
curvature: {examples: 0, lanczos_steps: 30, measures: [trace]}
command:
  argv: [%q, %q, "--lr", "{lr}", "--batch-size", "{batch_size}"]
  data: true
  timeout: 5m
grid: {batch_size: [32], lr: [0.1], seed: [1]}
`, py, abs(t, "../../examples/pytorch/train_mlp.py")))
	c := client(t, addr)
	waitDone(t, c, "cmd-torch", 4*time.Minute)
	tr := allTrials(t, c, "cmd-torch")[0]
	r := tr.Result
	if tr.State != pb.TrialState_TRIAL_STATE_SUCCEEDED || r == nil {
		t.Fatalf("state %v, last error %q", tr.State, tr.LastError)
	}
	// 16·16 + 16 + 16·4 + 4 parameters; whole batches of 32 from 256.
	if !r.External || r.Params != 340 || r.Steps != 24 || len(r.Curve) != 3 || r.Hvps == 0 || !(r.LambdaMax > 0) || r.Measures["trace"] == 0 {
		t.Fatalf("result: external %v, params %d, steps %d, %d epochs, λ₁ %v after %d products, trace %v",
			r.External, r.Params, r.Steps, len(r.Curve), r.LambdaMax, r.Hvps, r.Measures["trace"])
	}
	if r.Measures["torch_seconds"] <= 0 {
		t.Errorf("the program's own metric torch_seconds = %v, want > 0", r.Measures["torch_seconds"])
	}
	specFile := filepath.Join(dir, "trial.json")
	if err := os.WriteFile(specFile, []byte(tr.SpecJson), 0o644); err != nil {
		t.Fatal(err)
	}
	weightsFile := filepath.Join(work, "cmd-torch", tr.Id, "attempt-1", "weights.safetensors")
	out, errs, code := runCLI(t, "hessian", "--weights", weightsFile, "--spec", specFile, "--format", "json")
	if code != 0 {
		t.Fatalf("hessian: exit %d: %s", code, errs)
	}
	var h struct {
		LambdaMax float64 `json:"lambda_max"`
		Params    int64   `json:"params"`
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("hessian output %q: %v", out, err)
	}
	if h.LambdaMax != r.LambdaMax || h.Params != r.Params {
		t.Errorf("hessian on the program's weights: λ₁ %v (P = %d); the trial stored %v (P = %d): want the same bits", h.LambdaMax, h.Params, r.LambdaMax, r.Params)
	}
	// The helper put the trial's spec into the file: no --spec needed.
	out, errs, code = runCLI(t, "hessian", "--weights", weightsFile, "--format", "json")
	if code != 0 {
		t.Fatalf("hessian without --spec: exit %d: %s", code, errs)
	}
	h.LambdaMax = 0
	if err := json.Unmarshal([]byte(out), &h); err != nil || h.LambdaMax != r.LambdaMax {
		t.Errorf("hessian with the spec of the weights' metadata: λ₁ %v (%v), want %v", h.LambdaMax, err, r.LambdaMax)
	}
}

// TestCommandDrain: a worker told to stop (SIGTERM) lets its program run
// for --drain-timeout, then stops it and hands the trial back without
// counting the attempt; another worker runs it.
func TestCommandDrain(t *testing.T) {
	dir := t.TempDir()
	coord, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "")
	w := start(t, "worker", "--coordinator", addr, "--allow-commands", "--name", "drained", "--drain-timeout", "300ms", "--kill-grace", "1s")
	w.waitLog(t, "registered with coordinator", 20*time.Second)
	submitBody(t, addr, commandSweep(t, "cmd-drain", "slow", 1, ""))
	w.waitLog(t, "trial started", 20*time.Second)
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	w.waitLog(t, "trial handed back unfinished", 30*time.Second)
	start(t, "worker", "--coordinator", addr, "--allow-commands", "--name", "rescuer")
	c := client(t, addr)
	waitDone(t, c, "cmd-drain", 2*time.Minute)
	trials := allTrials(t, c, "cmd-drain")
	succeededOnce(t, []*proc{coord}, trials)
	if trials[0].Attempt != 1 {
		t.Errorf("attempt %d, want 1 (a hand-back is not counted)", trials[0].Attempt)
	}
}
