package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/coordinator"
	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// binary is the flatsweep executable built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flatsweep-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "flatsweep")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building flatsweep:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a flatsweep process whose JSON log lines are collected.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs []map[string]any
	raw  bytes.Buffer
	done chan struct{}
}

// start runs `flatsweep args...` with JSON logs on stderr.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startWrapped(t, nil, args...)
}

// startWrapped runs `wrapper... flatsweep args...` (e.g. with the wrapper
// `ip netns exec NS`, which execs flatsweep in place) with JSON logs on stderr.
func startWrapped(t *testing.T, wrapper []string, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{})}
	argv := append(append(slices.Clone(wrapper), binary), append(args, "--log-format", "json", "--log-level", "info")...)
	p.cmd = exec.Command(argv[0], argv[1:]...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec map[string]any
			p.mu.Lock()
			p.raw.WriteString(sc.Text() + "\n")
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				p.logs = append(p.logs, rec)
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("log of %v:\n%s", args, p.output())
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// find returns the log records with the given message.
func (p *proc) find(msg string) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, r := range p.logs {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// waitLog waits for a log record with the given message.
func (p *proc) waitLog(t *testing.T, msg string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if recs := p.find(msg); len(recs) > 0 {
			return recs[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q log within %v", msg, timeout)
	return nil
}

// startCoordinator starts a coordinator on a free loopback port (or on addr)
// and returns it with its address.
func startCoordinator(t *testing.T, db, addr string, extra ...string) (*proc, string) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	p := start(t, append([]string{"coordinator", "--listen", addr, "--db", db}, extra...)...)
	rec := p.waitLog(t, "coordinator listening", 20*time.Second)
	return p, rec["addr"].(string)
}

func client(t *testing.T, addr string) pb.SweepServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewSweepServiceClient(conn)
}

// runCLI runs a short flatsweep command and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCLIEnv(t, nil, args...)
}

func writeSweep(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sweep.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// e2eSweep has 8 trials of a fraction of a second each.
const e2eSweep = `name: e2e
dataset: {name: synthetic, n: 512, n_test: 256, label_noise: 0.1, seed: 3}
model: {arch: mlp, hidden: [32, 32]}
train: {epochs: %d}
curvature: {examples: 256, lanczos_steps: 10}
grid: {batch_size: [16, 64], lr: [0.05, 0.1], seed: [1, 2]}
`

// waitDone polls the coordinator until every trial of the sweep is finished.
func waitDone(t *testing.T, c pb.SweepServiceClient, sweep string, timeout time.Duration) *pb.Sweep {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := c.GetSweep(ctx, &pb.GetSweepRequest{SweepId: sweep})
		cancel()
		if err == nil {
			sc := resp.Sweep.StateCounts
			if sc["succeeded"]+sc["discarded"]+sc["cancelled"] == resp.Sweep.TrialCount {
				return resp.Sweep
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("sweep %s not finished within %v", sweep, timeout)
	return nil
}

func allTrials(t *testing.T, c pb.SweepServiceClient, sweep string) []*pb.Trial {
	t.Helper()
	resp, err := c.QueryResults(context.Background(), &pb.QueryResultsRequest{SweepId: sweep})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Trials
}

// succeededOnce checks that the coordinator logged exactly one success per trial.
func succeededOnce(t *testing.T, coords []*proc, trials []*pb.Trial) {
	t.Helper()
	count := map[string]int{}
	for _, p := range coords {
		for _, r := range p.find("trial succeeded") {
			count[r["trial"].(string)]++
		}
	}
	for _, tr := range trials {
		if tr.State != pb.TrialState_TRIAL_STATE_SUCCEEDED || tr.Result == nil {
			t.Errorf("trial %s: state %v, result %v", tr.Id, tr.State, tr.Result)
		}
		if count[tr.Id] != 1 {
			t.Errorf("trial %s recorded %d times, want once", tr.Id, count[tr.Id])
		}
	}
	if len(count) != len(trials) {
		t.Errorf("%d trials recorded, sweep has %d", len(count), len(trials))
	}
}

func TestClusterOfProcesses(t *testing.T) {
	dir := t.TempDir()
	coord, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "")
	w1 := start(t, "worker", "--coordinator", addr, "--name", "one")
	w2 := start(t, "worker", "--coordinator", addr, "--name", "two")
	w1.waitLog(t, "registered with coordinator", 20*time.Second)
	w2.waitLog(t, "registered with coordinator", 20*time.Second)

	sweep := writeSweep(t, fmt.Sprintf(e2eSweep, 15))
	out, errs, code := runCLI(t, "submit", sweep, "--coordinator", addr)
	if code != 0 || !strings.Contains(out, "sweep e2e created: 8 trials, 8 added") {
		t.Fatalf("submit: code %d\n%s%s", code, out, errs)
	}
	c := client(t, addr)
	waitDone(t, c, "e2e", 3*time.Minute)
	trials := allTrials(t, c, "e2e")
	if len(trials) != 8 {
		t.Fatalf("%d trials, want 8", len(trials))
	}
	succeededOnce(t, []*proc{coord}, trials)
	workers := map[string]bool{}
	for _, tr := range trials {
		workers[tr.WorkerId] = true
		if tr.Attempt != 1 {
			t.Errorf("trial %s took %d attempts", tr.Id, tr.Attempt)
		}
		if len(tr.Curve) != 15 {
			t.Errorf("trial %s curve has %d epochs, want 15", tr.Id, len(tr.Curve))
		}
	}
	if len(workers) != 2 {
		t.Errorf("trials ran on %d workers, want both", len(workers))
	}

	// Resubmitting adds nothing; results and status read back over gRPC.
	out, _, code = runCLI(t, "submit", sweep, "--coordinator", addr)
	if code != 0 || !strings.Contains(out, "sweep e2e updated: 8 trials, 0 added") {
		t.Fatalf("resubmit: code %d: %s", code, out)
	}
	out, errs, code = runCLI(t, "results", "e2e", "--coordinator", addr, "--format", "csv")
	if code != 0 || strings.Count(strings.TrimSpace(out), "\n") != 4 {
		t.Fatalf("results csv: code %d, want a header and 4 rows:\n%s%s", code, out, errs)
	}
	if head, _, _ := strings.Cut(out, "\n"); !strings.HasPrefix(head, "batch_size,lr,g,trials,ok,diverged,not_fitted,failed,unfinished,train_acc_count,train_acc_mean,") {
		t.Errorf("results csv header %q", head)
	}
	// The default table: the axes held fixed, then one row per batch size
	// and learning rate (the axes that vary but the seed) over both seeds,
	// then the legend.
	out, errs, code = runCLI(t, "results", "e2e", "--coordinator", addr)
	if code != 0 {
		t.Fatalf("results: code %d:\n%s%s", code, out, errs)
	}
	checkTable(t, out, "fixed: momentum=0 n=512 sam_m=0 sam_rho=0 weight_decay=0", "batch_size lr", [][]string{
		{"16", "0.05", "1.55"}, {"16", "0.1", "3.1"}, {"64", "0.05", "0.35"}, {"64", "0.1", "0.7"}}, 2)
	out, _, code = runCLI(t, "status", "--coordinator", addr)
	if code != 0 || !strings.Contains(out, "succeeded 8") || !strings.Contains(out, "one") || !strings.Contains(out, "two") {
		t.Fatalf("status: code %d:\n%s", code, out)
	}
	out, errs, code = runCLI(t, "results", "e2e", "--coordinator", addr, "--group-by", "batch_size", "--format", "jsonl")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, `"key":{"batch_size":16}`) || !strings.Contains(out, `"test_acc":{"count":4`) {
		t.Fatalf("grouped results: code %d:\n%s%s", code, out, errs)
	}
	// Where the time went: the costs every worker reported, summed.
	out, errs, code = runCLI(t, "results", "e2e", "--coordinator", addr, "--costs", "--format", "json")
	var costs []results.CostRow
	if code != 0 || json.Unmarshal([]byte(out), &costs) != nil {
		t.Fatalf("results --costs: code %d:\n%s%s", code, out, errs)
	}
	byName := map[string]results.CostRow{}
	for _, c := range costs {
		byName[c.Name] = c
	}
	if tr, lm := byName[results.CostTraining], byName[spec.CostLambdaMax]; tr.Trials != 8 || !(tr.Seconds > 0) || tr.Gradients == 0 ||
		lm.Trials != 8 || lm.HVPs == 0 || byName[results.CostCurvature].HVPs != lm.HVPs {
		t.Errorf("costs %+v", costs)
	}
	if out, _, code = runCLI(t, "results", "e2e", "--coordinator", addr, "--costs"); code != 0 || !strings.Contains(out, "  lambda_max") || !strings.Contains(out, "share") {
		t.Errorf("results --costs: code %d:\n%s", code, out)
	}
	if _, errs, code := runCLI(t, "results", "e2e", "--coordinator", addr, "--costs", "--group-by", "lr"); code != 2 || !strings.Contains(errs, "--costs") {
		t.Errorf("--costs --group-by: exit %d: %s", code, errs)
	}
	out, _, code = runCLI(t, "watch", "e2e", "--coordinator", addr)
	if code != 0 || !strings.Contains(out, "8/8") {
		t.Fatalf("watch of a finished sweep: code %d:\n%s", code, out)
	}
	backup := filepath.Join(dir, "backup.db")
	out, errs, code = runCLI(t, "backup", backup, "--coordinator", addr)
	if code != 0 || !strings.Contains(out, "(1 sweeps)") {
		t.Fatalf("backup: code %d:\n%s%s", code, out, errs)
	}
	st, err := store.Open(backup)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := st.Trials("e2e", "", func(tr *pb.Trial) bool {
		if tr.State == pb.TrialState_TRIAL_STATE_SUCCEEDED {
			n++
		}
		return true
	}); err != nil || n != 8 {
		t.Fatalf("backup holds %d succeeded trials (%v), want 8", n, err)
	}
	// The analysis the coordinator computes over gRPC equals the offline
	// analysis of the backup.
	st.Close()
	online, errs, code := runCLI(t, "analyze", "e2e", "--coordinator", addr, "--format", "json")
	if code != 0 || !strings.Contains(online, `"sweep"`) {
		t.Fatalf("analyze over gRPC: code %d:\n%s%s", code, online, errs)
	}
	offline, errs, code := runCLI(t, "analyze", "e2e", "--db", backup, "--format", "json")
	if code != 0 || offline != online {
		t.Fatalf("offline analysis (code %d) differs from the coordinator's:\n%s\n---\n%s%s", code, offline, online, errs)
	}
	if _, errs, code := runCLI(t, "results", "e2e", "--coordinator", addr, "--group-by", "colour"); code != 2 || !strings.Contains(errs, "--group-by") {
		t.Fatalf("bad --group-by: exit %d: %s", code, errs)
	}
}

// tableCells splits a row of an aligned table into its cells.
var tableCells = regexp.MustCompile(`\s{2,}`)

// checkTable checks a results table (results.WriteTable): its fixed line,
// its header (the grouping axes, then g and the usual columns), one row per
// group starting with the given axis values and g, each over the given
// number of finished trials, and the legend.
func checkTable(t *testing.T, out, fixed, axes string, rows [][]string, trials int) {
	t.Helper()
	table, legend, found := strings.Cut(out, "\n\n")
	if !found || legend != results.TableLegend {
		t.Errorf("table not followed by the legend:\n%s", out)
	}
	lines := strings.Split(table, "\n")
	if len(lines) != 2+len(rows) {
		t.Fatalf("%d lines, want fixed, header and %d rows:\n%s", len(lines), len(rows), out)
	}
	if lines[0] != fixed {
		t.Errorf("fixed line %q, want %q", lines[0], fixed)
	}
	if got, want := strings.Join(strings.Fields(lines[1]), " "), axes+" g ok train_acc test_acc gap lambda_max diverged not_fitted failed unfinished"; got != want {
		t.Errorf("header %q, want %q", got, want)
	}
	for i, want := range rows {
		cells := tableCells.Split(strings.TrimSpace(lines[2+i]), -1)
		if len(cells) != len(want)+9 || !slices.Equal(cells[:len(want)], want) {
			t.Errorf("row %d = %q, want it to start with %q", i, cells, want)
			continue
		}
		// ok, then the four metrics, then diverged, not fitted, failed, unfinished.
		var n [5]int
		for j, k := range []int{len(want), len(want) + 5, len(want) + 6, len(want) + 7, len(want) + 8} {
			n[j], _ = strconv.Atoi(cells[k])
		}
		if n[0]+n[1]+n[2]+n[3] != trials || n[4] != 0 || (n[0] > 0 && !strings.Contains(cells[len(want)+2], " ± ")) {
			t.Errorf("row %d = %q: want %d finished trials, the test accuracy as mean ± std", i, cells, trials)
		}
	}
}

// TestRunPrintsGroupedTable runs a sweep over momentum and batch size with
// `flatsweep run` and checks the table it prints: the momenta are apart,
// each row with its own g = ε(N/B − 1)/(1 − m); the database it keeps
// analyses offline into the same grid points.
func TestRunPrintsGroupedTable(t *testing.T) {
	sweep := writeSweep(t, strings.Replace(fmt.Sprintf(e2eSweep, 2), "grid: {batch_size: [16, 64], lr: [0.05, 0.1], seed: [1, 2]}",
		"grid: {momentum: [0, 0.9], batch_size: [16, 64], lr: [0.05], seed: [1, 2]}", 1))
	db := filepath.Join(t.TempDir(), "run.db")
	out, errs, code := runCLI(t, "run", sweep, "--workers", "2", "--db", db)
	if code != 0 {
		t.Fatalf("run: code %d:\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, "sweep e2e: 8 trials (8 new), 2 workers") || !strings.Contains(errs, "[  8/8]") {
		t.Errorf("run progress:\n%s", errs)
	}
	// g = 0.05·(512/16 − 1) = 1.55, 0.05·(512/64 − 1) = 0.35; ×10 at m = 0.9.
	checkTable(t, out, "fixed: lr=0.05 n=512 sam_m=0 sam_rho=0 weight_decay=0", "momentum batch_size", [][]string{
		{"0", "16", "1.55"}, {"0", "64", "0.35"}, {"0.9", "16", "15.5"}, {"0.9", "64", "3.5"}}, 2)

	offline, errs, code := runCLI(t, "analyze", "e2e", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("analyze: code %d:\n%s%s", code, offline, errs)
	}
	var a struct {
		VaryingAxes []string `json:"varying_axes"`
		GridPoints  []struct {
			Axes   map[string]float64 `json:"axes"`
			G      *float64           `json:"g"`
			Counts struct{ Trials int }
		} `json:"grid_points"`
	}
	if err := json.Unmarshal([]byte(offline), &a); err != nil {
		t.Fatal(err)
	}
	if len(a.GridPoints) != 4 {
		t.Fatalf("%d grid points, want 4:\n%s", len(a.GridPoints), offline)
	}
	for _, gp := range a.GridPoints {
		m, b := gp.Axes["momentum"], gp.Axes["batch_size"]
		if want := 0.05 * (512/b - 1) / (1 - m); gp.G == nil || math.Abs(*gp.G-want) > 1e-12*want || gp.Counts.Trials != 2 {
			t.Errorf("grid point %v: g %v over %d trials, want %v over 2", gp.Axes, deref(gp.G), gp.Counts.Trials, want)
		}
	}
}

func TestKilledWorkerTrialIsReleased(t *testing.T) {
	dir := t.TempDir()
	coord, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "", "--lease-ttl", "1s")
	doomed := start(t, "worker", "--coordinator", addr, "--name", "doomed")
	doomed.waitLog(t, "registered with coordinator", 20*time.Second)
	sweep := writeSweep(t, strings.Replace(fmt.Sprintf(e2eSweep, 400), "batch_size: [16, 64], lr: [0.05, 0.1], seed: [1, 2]", "batch_size: [16], lr: [0.05], seed: [1]", 1))
	if _, errs, code := runCLI(t, "submit", sweep, "--coordinator", addr); code != 0 {
		t.Fatal(errs)
	}
	doomed.waitLog(t, "trial started", 20*time.Second)
	if err := doomed.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	coord.waitLog(t, "lease expired", 20*time.Second)
	start(t, "worker", "--coordinator", addr, "--name", "rescuer")
	c := client(t, addr)
	waitDone(t, c, "e2e", 3*time.Minute)
	trials := allTrials(t, c, "e2e")
	succeededOnce(t, []*proc{coord}, trials)
	if trials[0].Attempt != 2 {
		t.Errorf("attempt %d, want 2 (the killed one and the rescue)", trials[0].Attempt)
	}
}

func TestCoordinatorRestartMidSweep(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	coord, addr := startCoordinator(t, db, "")
	for _, name := range []string{"one", "two"} {
		start(t, "worker", "--coordinator", addr, "--name", name)
	}
	sweep := writeSweep(t, fmt.Sprintf(e2eSweep, 60))
	if _, errs, code := runCLI(t, "submit", sweep, "--coordinator", addr); code != 0 {
		t.Fatal(errs)
	}
	coord.waitLog(t, "trial succeeded", 2*time.Minute)
	if err := coord.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-coord.done
	before := len(coord.find("trial succeeded"))
	coord2, _ := startCoordinator(t, db, addr)
	c := client(t, addr)
	waitDone(t, c, "e2e", 3*time.Minute)
	trials := allTrials(t, c, "e2e")
	if len(trials) != 8 {
		t.Fatalf("%d trials after restart, want 8", len(trials))
	}
	succeededOnce(t, []*proc{coord, coord2}, trials)
	if before >= 8 {
		t.Fatalf("all 8 trials finished before the kill: the restart happened after the sweep, not during it")
	}
}

func TestBadInputExitsTwoAndStoresNothing(t *testing.T) {
	good := fmt.Sprintf(e2eSweep, 1)
	cases := []struct {
		name string
		args func(dir string) []string
		want string
	}{
		{"missing file", func(dir string) []string { return []string{"run", filepath.Join(dir, "nope.yaml")} }, "nope.yaml"},
		{"malformed yaml", sweepArgs("name: [unclosed\n"), "malformed YAML"},
		{"unknown field", sweepArgs(strings.Replace(good, "batch_size:", "batchsize:", 1)), "grid.batchsize"},
		{"zero batch size", sweepArgs(strings.Replace(good, "[16, 64]", "[0, 64]", 1)), "grid.batch_size[0] = 0"},
		{"negative batch size", sweepArgs(strings.Replace(good, "[16, 64]", "[16, -4]", 1)), "grid.batch_size[1] = -4"},
		{"batch size above n", sweepArgs(strings.Replace(good, "[16, 64]", "[16, 4096]", 1)), "grid.batch_size[1] = 4096"},
		{"nan learning rate", sweepArgs(strings.Replace(good, "[0.05, 0.1]", "[.nan, 0.1]", 1)), "grid.lr[0] = .nan"},
		{"infinite learning rate", sweepArgs(strings.Replace(good, "[0.05, 0.1]", "[0.05, .inf]", 1)), "grid.lr[1] = .inf"},
		{"negative sam rho", sweepArgs(strings.Replace(good, "train: {epochs: 1}", "train: {epochs: 1, sam: {rho: -1}}", 1)), "train.sam.rho = -1: must be finite and ≥ 0"},
		{"accuracy target above 1", sweepArgs(strings.Replace(good, "train: {epochs: 1}", "train: {epochs: 1, stop: {train_acc: 1.5}}", 1)), "train.stop.train_acc = 1.5: must be in (0, 1]"},
		{"unknown partial batch", sweepArgs(strings.Replace(good, "train: {epochs: 1}", "train: {epochs: 1, partial_batch: pad}", 1)), `train.partial_batch = "pad": must be "drop"`},
		{"negative loss target", sweepArgs(strings.Replace(good, "train: {epochs: 1}", "train: {epochs: 1, stop: {train_loss: -0.01}}", 1)), "train.stop.train_loss = -0.01: must be finite and > 0"},
		{"sam m not dividing the batch size", sweepArgs(strings.Replace(good, "train: {epochs: 1}", "train: {epochs: 1, sam: {rho: 0.05, m: 32}}", 1)),
			"train.sam.m = 32: grid.batch_size[0] = 16: does not divide the batch size 16"},
		{"swa start beyond the epochs", sweepArgs(strings.Replace(good, "train: {epochs: 1}", "train: {epochs: 1, swa: {start: 2}}", 1)), "train.swa.start = 2"},
		{"zero workers", func(string) []string { return []string{"run", "--workers", "0"} }, "--workers"},
		{"bad format", func(string) []string { return []string{"run", "--format", "xml"} }, "--format"},
		{"unknown flag", func(string) []string { return []string{"run", "--wokers", "2"} }, "wokers"},
		{"data that is not IDX", func(dir string) []string {
			data := filepath.Join(dir, "mnist")
			if err := os.Mkdir(data, 0o755); err != nil {
				panic(err)
			}
			for _, f := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte"} {
				if err := os.WriteFile(filepath.Join(data, f), bytes.Repeat([]byte("not idx "), 400), 0o644); err != nil {
					panic(err)
				}
			}
			return sweepArgs(strings.Replace(good, "dataset: {name: synthetic, n: 512, n_test: 256, label_noise: 0.1, seed: 3}",
				"dataset: {name: mnist, dir: "+data+", n: 256, n_test: 32, seed: 3}", 1))(dir)
		}, "train-images-idx3-ubyte: data: malformed data file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "out.db")
			args := append(tc.args(dir), "--db", db)
			_, errs, code := runCLI(t, args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2; stderr:\n%s", code, errs)
			}
			if !strings.Contains(errs, tc.want) {
				t.Errorf("stderr does not name %q:\n%s", tc.want, errs)
			}
			if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("database %s was created for bad input (stat: %v)", db, err)
			}
		})
	}
}

// TestFailedTrialsExitNonZero: a sweep whose trials fail on the workers —
// here for a warm-start file that is not safetensors, an input error that
// only a worker finds — is run once per trial (no retries), its table says
// why the trials failed, and run exits with status 2.
func TestFailedTrialsExitNonZero(t *testing.T) {
	dir := t.TempDir()
	warm := filepath.Join(dir, "w.safetensors")
	if err := os.WriteFile(warm, []byte("this is not a safetensors file"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(fmt.Sprintf(e2eSweep, 1), "train: {", "train: {warm_start: {path: "+warm+"}, ", 1)
	if !strings.Contains(body, "warm_start") {
		t.Fatalf("sweep has no warm start:\n%s", body)
	}
	out, errs, code := runCLI(t, "run", writeSweep(t, body), "--db", filepath.Join(dir, "run.db"))
	if code != 2 {
		t.Fatalf("exit status %d, want 2; stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(out, "failed trials, by reason:") || !strings.Contains(out, "discarded  input error") || !strings.Contains(out, "weights:") {
		t.Errorf("the table does not say why the trials failed:\n%s", out)
	}
	if !strings.Contains(errs, "trials failed") {
		t.Errorf("stderr does not report the failures:\n%s", errs)
	}
	if n := strings.Count(errs, "trial attempt failed"); n > 8 {
		t.Errorf("%d failed attempts logged for 8 trials: input errors were retried", n)
	}
}

// TestRoleTokens: with a token per role, the worker token runs trials but
// cannot submit or cancel, and the client token submits and steers but
// cannot lease; the sweep finishes.
func TestRoleTokens(t *testing.T) {
	dir := t.TempDir()
	file := func(name, tok string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	workerTok, clientTok := file("worker.token", "w-s3cret"), file("client.token", "c-s3cret")
	_, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "", "--worker-token-file", workerTok, "--client-token-file", clientTok)
	sweep := writeSweep(t, strings.Replace(fmt.Sprintf(e2eSweep, 1), "seed: [1, 2]}", "seed: [1]}", 1))
	if _, errs, code := runCLI(t, "submit", sweep, "--coordinator", addr, "--token-file", workerTok); code == 0 || !strings.Contains(errs, "PermissionDenied") {
		t.Fatalf("submit with the worker token: exit %d\n%s", code, errs)
	}
	if _, errs, code := runCLI(t, "submit", sweep, "--coordinator", addr, "--token-file", clientTok); code != 0 {
		t.Fatalf("submit with the client token: exit %d\n%s", code, errs)
	}
	if _, errs, code := runCLI(t, "cancel", "e2e", "--coordinator", addr, "--token-file", workerTok); code == 0 || !strings.Contains(errs, "PermissionDenied") {
		t.Fatalf("cancel with the worker token: exit %d\n%s", code, errs)
	}
	start(t, "worker", "--coordinator", addr, "--token-file", workerTok)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(coordinator.TokenCredentials("c-s3cret")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := pb.NewWorkerServiceClient(conn).RegisterWorker(context.Background(), &pb.RegisterWorkerRequest{Name: "x", Slots: 1}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("register with the client token: %v, want PermissionDenied", err)
	}
	if sw := waitDone(t, pb.NewSweepServiceClient(conn), "e2e", 2*time.Minute); sw.StateCounts["succeeded"] != 4 {
		t.Fatalf("sweep ended %v, want 4 succeeded", sw.StateCounts)
	}
}

// sweepArgs writes body to a sweep file and returns `run FILE`.
func sweepArgs(body string) func(dir string) []string {
	return func(dir string) []string {
		path := filepath.Join(dir, "sweep.yaml")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			panic(err)
		}
		return []string{"run", path}
	}
}

func TestTokenRefusesClientsWithoutIt(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	coord, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "", "--token-file", tokenFile)
	_, errs, code := runCLI(t, "status", "--coordinator", addr)
	if code == 0 || !strings.Contains(errs, "Unauthenticated") {
		t.Fatalf("status without token: exit %d, stderr %s", code, errs)
	}
	_, errs, code = runCLI(t, "status", "--coordinator", addr, "--token", "wrong")
	if code == 0 || !strings.Contains(errs, "Unauthenticated") {
		t.Fatalf("status with a wrong token: exit %d, stderr %s", code, errs)
	}
	start(t, "worker", "--coordinator", addr, "--token", "s3cret")
	sweep := writeSweep(t, strings.Replace(fmt.Sprintf(e2eSweep, 2), "seed: [1, 2]}", "seed: [1]}", 1))
	if _, errs, code := runCLI(t, "submit", sweep, "--coordinator", addr, "--token-file", tokenFile); code != 0 {
		t.Fatalf("submit with token: %s", errs)
	}
	c := client(t, addr)
	_, err := c.ListSweeps(context.Background(), &pb.ListSweepsRequest{})
	if err == nil {
		t.Fatal("gRPC client without token was served")
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(coordinator.TokenCredentials("s3cret")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	trials := allTrials(t, pb.NewSweepServiceClient(conn), "e2e")
	waitDone(t, pb.NewSweepServiceClient(conn), "e2e", 2*time.Minute)
	succeededOnce(t, []*proc{coord}, allTrials(t, pb.NewSweepServiceClient(conn), "e2e"))
	if len(trials) != 4 {
		t.Fatalf("%d trials, want 4", len(trials))
	}
}
