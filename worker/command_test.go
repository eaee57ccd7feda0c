package worker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/compute/weights"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// TestParseMetrics: a metrics line is one JSON object with the epoch in
// order and the four metrics within their ranges; anything else is an error
// saying what is wrong.
func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics([]byte(`{"epoch": 2, "train_loss": 0.5, "train_acc": 0.75, "test_loss": 0.6, "test_acc": 0.7, "step": 20, "lr": 0.1, "batch_size": 8}`), 1)
	want := spec.EpochMetrics{Epoch: 2, TrainLoss: 0.5, TrainAcc: 0.75, TestLoss: 0.6, TestAcc: 0.7, Step: 20, LR: 0.1, BatchSize: 8}
	if err != nil || m != want {
		t.Fatalf("got %+v, %v; want %+v", m, err, want)
	}
	for line, problem := range map[string]string{
		`garbage`: "not a JSON object of epoch metrics",
		`{"epoch": 1, "train_loss": 1, "train_acc": 0.5, "test_loss": 1, "test_acc": 0.5} {}`:                "trailing data",
		`{"train_loss": 1, "train_acc": 0.5, "test_loss": 1, "test_acc": 0.5}`:                               `missing "epoch"`,
		`{"epoch": 3, "train_loss": 1, "train_acc": 0.5, "test_loss": 1, "test_acc": 0.5}`:                   "expected 1",
		`{"epoch": 1, "train_acc": 0.5, "test_loss": 1, "test_acc": 0.5}`:                                    `missing "train_loss"`,
		`{"epoch": 1, "train_loss": -1, "train_acc": 0.5, "test_loss": 1, "test_acc": 0.5}`:                  `"train_loss" = -1`,
		`{"epoch": 1, "train_loss": 1, "train_acc": 1.5, "test_loss": 1, "test_acc": 0.5}`:                   `"train_acc" = 1.5: an accuracy`,
		`{"epoch": 1, "train_loss": 1, "train_acc": 0.5, "test_loss": 1, "test_acc": 0.5, "lambda": 3}`:      `unknown field "lambda"`,
		`{"epoch": 1, "train_loss": 1, "train_acc": 0.5, "test_loss": 1, "test_acc": 0.5, "step": -1}`:       `"step"`,
		`{"epoch": 1, "train_loss": "1", "train_acc": 0.5, "test_loss": 1, "test_acc": 0.5}`:                 "not a JSON object",
		`{"epoch": 1.5, "train_loss": 1, "train_acc": 0.5, "test_loss": 1, "test_acc": 0.5}`:                 "not a JSON object",
		`{"epoch": 1, "train_loss": 1e999, "train_acc": 0.5, "test_loss": 1, "test_acc": 0.5}`:               "not a JSON object",
		`{"epoch": 1, "train_loss": 1, "train_acc": 0.5, "test_loss": 1, "test_acc": 0.5, "lr": -0.1}`:       `"lr"`,
		`{"epoch": 1, "train_loss": 1, "train_acc": 0.5, "test_loss": 1, "test_acc": 0.5, "batch_size": -2}`: `"batch_size"`,
	} {
		if _, err := parseMetrics([]byte(line), 0); err == nil || !strings.Contains(err.Error(), problem) {
			t.Errorf("%s: error %v, want one saying %q", line, err, problem)
		}
	}
}

// TestReadResult: result.json needs the four metrics; named metrics become
// measures (those that are not finite left out); a diverged run's null
// metrics come from its last epoch; a file that is not JSON, lacks a field
// or has an unknown one is an error naming it.
func TestReadResult(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "result.json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	curve := []spec.EpochMetrics{{Epoch: 1, TrainLoss: 0.9, TrainAcc: 0.4, TestLoss: 1, TestAcc: 0.35, Step: 7}}
	res, err := readResult(write(`{"train_loss": 0.5, "train_acc": 0.8, "test_loss": 0.6, "test_acc": 0.7, "params": 12, "metrics": {"wall": 3.5, "nan": null}}`), curve)
	if err != nil {
		t.Fatal(err)
	}
	if !res.External || res.TrainLoss != 0.5 || res.TestAcc != 0.7 || res.Params != 12 || res.Steps != 7 ||
		len(res.Measures) != 1 || res.Measures["wall"] != 3.5 || len(res.Curve) != 1 {
		t.Errorf("result %+v", res)
	}
	res, err = readResult(write(`{"train_loss": null, "train_acc": null, "test_loss": null, "test_acc": 0.3, "diverged": true}`), curve)
	if err != nil || !res.Diverged || res.TrainLoss != 0.9 || res.TrainAcc != 0.4 || res.TestLoss != 1 || res.TestAcc != 0.3 {
		t.Errorf("diverged result %+v, %v", res, err)
	}
	for body, problem := range map[string]string{
		`{not json`: "result.json is not valid JSON",
		`{"train_loss": 0.5, "train_acc": 0.8, "test_loss": 0.6}`:                                   `missing "test_acc"`,
		`{"train_loss": 0.5, "train_acc": 0.8, "test_loss": 0.6, "test_acc": 0.7, "lambda_max": 3}`: `unknown field "lambda_max"`,
		`{"train_loss": null, "train_acc": 0.8, "test_loss": 0.6, "test_acc": 0.7}`:                 `missing "train_loss"`,
		`{"train_loss": 0.5, "train_acc": 80, "test_loss": 0.6, "test_acc": 0.7}`:                   `"train_acc" = 80`,
		`{"train_loss": 0.5, "train_acc": 0.8, "test_loss": 0.6, "test_acc": 0.7, "steps": -3}`:     "steps and params",
		`[1, 2]`: "not valid JSON of a result",
	} {
		if _, err := readResult(write(body), curve); err == nil || !strings.Contains(err.Error(), problem) {
			t.Errorf("%s: error %v, want one saying %q", body, err, problem)
		}
	}
	if _, err := readResult(write(`{"train_loss": null, "train_acc": 0.8, "test_loss": 0.6, "test_acc": 0.7, "diverged": true}`), nil); err == nil ||
		!strings.Contains(err.Error(), "no epoch was reported") {
		t.Errorf("null metric without a curve: %v", err)
	}
	if _, err := readResult(filepath.Join(dir, "absent.json"), nil); err == nil || !strings.Contains(err.Error(), "wrote no result.json") {
		t.Errorf("missing file: %v", err)
	}
}

// TestTail: a tail keeps exactly the last max bytes and counts the rest.
func TestTail(t *testing.T) {
	tl := newTail(10)
	var all []byte
	for i := range 100 {
		chunk := bytes.Repeat([]byte{byte('a' + i%26)}, i%7+1)
		all = append(all, chunk...)
		if _, err := tl.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	got := tl.bytes()
	if !bytes.Equal(got, all[len(all)-10:]) || tl.dropped != int64(len(all)-10) {
		t.Errorf("tail %q (dropped %d), want %q (dropped %d)", got, tl.dropped, all[len(all)-10:], len(all)-10)
	}
}

// TestHelperSafetensors: the Python helper (plain python3, standard library
// only) writes safetensors that flatsweep reads back exactly, and reads
// what flatsweep writes.
func TestHelperSafetensors(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 in PATH")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.safetensors")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := weights.WriteAs(f, weights.F32, []weights.Tensor{{Name: "x", Shape: []int{2, 3}, Data: []float64{1, 2, 3, 4, 5, 6.5}}}, map[string]string{"classes": "4"}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "out.safetensors")
	script := `
import sys
import flatsweep_helper as fs
ts, meta = fs.read_safetensors(sys.argv[1])
shape, x = ts["x"]
assert shape == [2, 3] and list(x) == [1, 2, 3, 4, 5, 6.5] and meta == {"classes": "4"}, (shape, list(x), meta)
fs.write_safetensors(sys.argv[2], {"1.bias": [0.25, -1.5], "0.weight": [[1, 2], [3, 4], [5, 6]]})
`
	cmd := exec.Command(py, "-c", script, in, out)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join("..", "python"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python3: %v\n%s", err, b)
	}
	g, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ts, _, err := weights.Read(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Name != "0.weight" || !slices.Equal(ts[0].Shape, []int{3, 2}) || !slices.Equal(ts[0].Data, []float64{1, 2, 3, 4, 5, 6}) ||
		ts[1].Name != "1.bias" || !slices.Equal(ts[1].Data, []float64{0.25, -1.5}) {
		t.Errorf("read back %+v", ts)
	}
}

// TestAttemptOutcomes: a program that cannot start, exits non-zero or runs
// past its timeout fails with a reason saying so (and quoting its standard
// error); none of these reads as an error of the trial's input, so the
// trial is retried.
func TestAttemptOutcomes(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cfg := CommandConfig{}
	cfg.setDefaults()
	cfg.KillGrace = time.Second
	run := func(argv []string, timeout time.Duration) (*attempt, error) {
		a := &attempt{cfg: cfg, argv: argv, dir: t.TempDir(), env: os.Environ(), timeout: timeout,
			stdout: newTail(1 << 10), stderr: newTail(1 << 10)}
		return a, a.run(context.Background())
	}
	for _, c := range []struct {
		argv    []string
		timeout time.Duration
		want    string
		exit    int
	}{
		{[]string{"/nonexistent/flatsweep-prog"}, 0, `command "/nonexistent/flatsweep-prog" does not exist on this worker`, -1},
		{[]string{"flatsweep-no-such-prog"}, 0, `command "flatsweep-no-such-prog" not found on this worker (not in its PATH)`, -1},
		{[]string{sh, "-c", "echo out; echo oops >&2; exit 7"}, 0, "exited with status 7; its standard error ends:\noops", 7},
		{[]string{sh, "-c", "sleep 30"}, 200 * time.Millisecond, "timed out after 200ms (command.timeout)", -1},
		{[]string{sh, "-c", "kill -9 $$"}, 0, "ended by signal: killed", -1},
	} {
		a, err := run(c.argv, c.timeout)
		if err == nil || !strings.Contains(err.Error(), c.want) || compute.IsInputError(err) || a.exitCode != c.exit {
			t.Errorf("%q: error %v (input error %v), exit %d; want one saying %q, exit %d", c.argv, err, compute.IsInputError(err), a.exitCode, c.want, c.exit)
		}
	}
	a, err := run([]string{sh, "-c", "echo hello; printf '%s\\n' '{\"epoch\": 1, \"train_loss\": 1, \"train_acc\": 0.5, \"test_loss\": 1, \"test_acc\": 0.5}' >&3"}, 0)
	if err != nil || a.exitCode != 0 || string(a.stdout.bytes()) != "hello\n" || len(a.curve) != 1 {
		t.Errorf("good program: %v, exit %d, stdout %q, curve %v", err, a.exitCode, a.stdout.bytes(), a.curve)
	}
}

// TestCommandTrialInProcess: a worker (in this process, for the race
// detector) runs a command trial leased from a coordinator on a loopback
// socket: its epochs, result and log reach the coordinator, the result
// marked external.
func TestCommandTrialInProcess(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	e := setup(t, 2*time.Second)
	script := `echo "lr=$1"; for e in 1 2; do printf '{"epoch": %d, "train_loss": 0.5, "train_acc": 0.8, "test_loss": 0.6, "test_acc": 0.7}\n' $e >&3; done; ` +
		`printf '{"train_loss": 0.5, "train_acc": 0.8, "test_loss": 0.6, "test_acc": 0.7, "metrics": {"m": 2}}' > "$FLATSWEEP_RESULT"`
	script = strings.NewReplacer("{", "{{", "}", "}}").Replace(script) // literal braces in a template
	yaml := fmt.Sprintf(`name: w
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
train: {epochs: 2}
command: {argv: [%q, "-c", %q, "sh", "{lr}"]}
grid: {batch_size: [8], lr: [0.1], seed: [1]}
`, sh, script)
	if _, err := e.sweeps.SubmitSweep(context.Background(), submitRequest(t, yaml)); err != nil {
		t.Fatal(err)
	}
	w := New(dialT(t, e.addr), Config{Name: "t", AcquireWait: 200 * time.Millisecond, Logger: quiet,
		Command: CommandConfig{Allow: true, WorkDir: t.TempDir()}})
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	go func() { _ = w.Run(ctx); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })
	tr := e.waitState(t, pb.TrialState_TRIAL_STATE_SUCCEEDED)
	if r := tr.Result; !r.External || len(r.Curve) != 2 || r.Measures["m"] != 2 || r.TestAcc != 0.7 {
		t.Errorf("result %v", r)
	}
	resp, err := e.sweeps.Logs(context.Background(), &pb.LogsRequest{SweepId: "w", TrialId: tr.Id})
	if err != nil || len(resp.Logs) != 1 || string(resp.Logs[0].Stdout) != "lr=0.1\n" || resp.Logs[0].Outcome != "succeeded" {
		t.Errorf("logs %v, %v", resp.GetLogs(), err)
	}
}

// TestCommandSlots: a worker with 4 slots runs command trials occupying 2
// slots each (command.slots) at most two at a time, and each program finds
// FLATSWEEP_SLOTS=2. Each program marks itself running in a shared
// directory, waits (up to 10 s) to see a second one running and then
// samples how many are, so that both too many at once and none side by
// side would show.
func TestCommandSlots(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	e := setup(t, 2*time.Second)
	marks := t.TempDir()
	script := `d=$1; id=$FLATSWEEP_TRIAL_ID; : > "$d/run-$id"; echo "$FLATSWEEP_SLOTS" > "$d/slots-$id"; ` +
		`count() { ls "$d" | grep -c '^run-'; }; ` +
		`i=0; while [ $i -lt 200 ] && [ "$(count)" -lt 2 ]; do sleep 0.05; i=$((i+1)); done; ` +
		`j=0; while [ $j -lt 8 ]; do count >> "$d/seen-$id"; sleep 0.05; j=$((j+1)); done; ` +
		`rm "$d/run-$id"; ` +
		`printf '{"epoch": 1, "train_loss": 0.5, "train_acc": 0.8, "test_loss": 0.6, "test_acc": 0.7}\n' >&3; ` +
		`printf '{"train_loss": 0.5, "train_acc": 0.8, "test_loss": 0.6, "test_acc": 0.7}' > "$FLATSWEEP_RESULT"`
	script = strings.NewReplacer("{", "{{", "}", "}}").Replace(script) // literal braces in a template
	yaml := fmt.Sprintf(`name: w
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
train: {epochs: 1}
command: {argv: [%q, "-c", %q, "sh", %q], slots: 2}
grid: {batch_size: [8], lr: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], seed: [1]}
`, sh, script, marks)
	if _, err := e.sweeps.SubmitSweep(context.Background(), submitRequest(t, yaml)); err != nil {
		t.Fatal(err)
	}
	w := New(dialT(t, e.addr), Config{Name: "t", Slots: 4, AcquireWait: 200 * time.Millisecond, Logger: quiet,
		Command: CommandConfig{Allow: true, WorkDir: t.TempDir()}})
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	go func() { _ = w.Run(ctx); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := e.sweeps.QueryResults(context.Background(), &pb.QueryResultsRequest{SweepId: "w"})
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, tr := range resp.Trials {
			if tr.State == pb.TrialState_TRIAL_STATE_SUCCEEDED {
				done++
			}
		}
		if done == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 6 trials succeeded", done)
		}
		time.Sleep(20 * time.Millisecond)
	}
	most := 0
	files, _ := filepath.Glob(filepath.Join(marks, "seen-*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range strings.Fields(string(b)) {
			var n int
			if _, err := fmt.Sscan(s, &n); err != nil {
				t.Fatalf("%s: %q", f, b)
			}
			most = max(most, n)
		}
	}
	if len(files) != 6 || most != 2 {
		t.Errorf("%d programs sampled; at most %d ran at once, want 2 (4 slots, 2 per trial)", len(files), most)
	}
	slots, _ := filepath.Glob(filepath.Join(marks, "slots-*"))
	for _, f := range slots {
		if b, _ := os.ReadFile(f); strings.TrimSpace(string(b)) != "2" {
			t.Errorf("%s: FLATSWEEP_SLOTS=%q, want 2", filepath.Base(f), b)
		}
	}
}
