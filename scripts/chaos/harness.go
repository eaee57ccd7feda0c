package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// sweepName is the name of the sweep the harness runs.
const sweepName = "chaos"

// config is a chaos run's settings (the command's flags).
type config struct {
	Bin    string // flatsweep binary; built into Dir when empty
	Dir    string // working directory: databases, logs; a temporary one when empty
	RefDB  string // reference database of the same sweep; computed when empty
	Seed   uint64 // seed of the fault schedule
	Trials int    // trials of the sweep (rounded up to a multiple of 8)

	Workers     int
	Slots       int
	LeaseTTL    time.Duration
	MaxAttempts int

	Duration      time.Duration // longest chaos phase (it ends earlier when the sweep is done)
	SettleTimeout time.Duration // how long the fault-free end may take
	Rates         map[faultKind]float64
	CutMax        time.Duration // longest partition or stall

	// The sweep's trial size.
	N, Hidden, Epochs int

	Verbose bool // log every fault to the progress writer
}

// defaultConfig returns the flags' defaults.
func defaultConfig() config {
	return config{
		Seed: 1, Trials: 1600, Workers: 4, Slots: 1, LeaseTTL: 2 * time.Second, MaxAttempts: 1000,
		Duration: 5 * time.Minute, SettleTimeout: 5 * time.Minute, CutMax: 4 * time.Second,
		Rates: map[faultKind]float64{
			workerKill: 3, workerStop: 2, coordKill: 0.5, coordStop: 0.3, connReset: 3, partition: 1, stall: 1,
		},
		N: 2048, Hidden: 64, Epochs: 30,
	}
}

// check validates a configuration.
func (c config) check() error {
	switch {
	case c.Trials < 1:
		return fmt.Errorf("-trials: must be at least 1, got %d", c.Trials)
	case c.Workers < 1:
		return fmt.Errorf("-workers: must be at least 1, got %d", c.Workers)
	case c.Slots < 1:
		return fmt.Errorf("-slots: must be at least 1, got %d", c.Slots)
	case c.LeaseTTL < time.Second:
		return fmt.Errorf("-lease-ttl: must be at least 1s (the coordinator's minimum), got %s", c.LeaseTTL)
	case c.MaxAttempts < 1:
		return fmt.Errorf("-max-attempts: must be at least 1, got %d", c.MaxAttempts)
	case c.Duration < 0:
		return fmt.Errorf("-duration: must not be negative, got %s", c.Duration)
	case c.SettleTimeout <= 0:
		return fmt.Errorf("-settle-timeout: must be positive, got %s", c.SettleTimeout)
	case c.CutMax < 100*time.Millisecond:
		return fmt.Errorf("-cut-max: must be at least 100ms, got %s", c.CutMax)
	case c.N < 512:
		return fmt.Errorf("-n: must be at least 512, got %d", c.N)
	case c.Hidden < 1:
		return fmt.Errorf("-hidden: must be at least 1, got %d", c.Hidden)
	case c.Epochs < 1:
		return fmt.Errorf("-epochs: must be at least 1, got %d", c.Epochs)
	}
	for k, r := range c.Rates {
		if r < 0 {
			return fmt.Errorf("-%s: must not be negative, got %g", k, r)
		}
	}
	return nil
}

// sweepYAML is the sweep file: synthetic data, a small MLP, batch size ×
// learning rate × seed with enough seeds for trials.
func sweepYAML(c config) string {
	seeds := make([]string, (c.Trials+7)/8)
	for i := range seeds {
		seeds[i] = strconv.Itoa(i + 1)
	}
	return fmt.Sprintf(`# The chaos harness's sweep (scripts/chaos): %d trials.
name: %s
dataset: {name: synthetic, n: %d, n_test: 512, features: 16, classes: 4, label_noise: 0.1, seed: 7}
model: {arch: mlp, hidden: [%d, %d], activation: relu}
train: {epochs: %d}
curvature:
  examples: 512
  lanczos_steps: 10
  measures: [trace, top_k, keskar]
  trace: {method: hutchinson, budget: 10}
  top_k: {k: 2}
  keskar: {epsilons: [1e-3], iterations: 3, space: full}
grid:
  batch_size: [16, 32, 64, 128]
  lr: [0.05, 0.1]
  seed: [%s]
`, 8*len(seeds), sweepName, c.N, c.Hidden, c.Hidden, c.Epochs, strings.Join(seeds, ", "))
}

// harness holds a run's processes, proxies and counters.
type harness struct {
	cfg      config
	dir      string
	bin      string
	sweep    string // sweep file
	progress io.Writer
	start    time.Time // submission

	coordMu sync.Mutex   // held while the coordinator is killed or restarted
	done    atomic.Int64 // trials done at the last poll

	mu        sync.Mutex
	problems  []string
	coord     *child
	coordAddr string
	coordGen  int
	coords    []*child // every coordinator process started
	workers   []*child // current process of each worker
	allWork   []*child // every worker process started
	workerGen []int
	proxies   []*proxy
	faults    map[faultKind]int
	faultLog  *os.File
	ctlConn   *grpc.ClientConn
	ctlAddr   string
}

// run performs a chaos run and returns its report.
func run(ctx context.Context, cfg config, progress io.Writer) (rep *report, err error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	h := &harness{cfg: cfg, progress: progress, faults: map[faultKind]int{}}
	if h.dir = cfg.Dir; h.dir == "" {
		if h.dir, err = os.MkdirTemp("", "flatsweep-chaos-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return nil, err
	}
	defer h.cleanup()
	rep = &report{Config: cfg, Dir: h.dir, Faults: map[string]int{}}
	if h.bin = cfg.Bin; h.bin == "" {
		h.bin = filepath.Join(h.dir, "flatsweep")
		t0 := time.Now()
		if err := buildBinary(ctx, h.bin); err != nil {
			return rep, err
		}
		h.logf("built flatsweep into %s in %.1fs", h.bin, time.Since(t0).Seconds())
	}
	h.sweep = filepath.Join(h.dir, "sweep.yaml")
	if err := os.WriteFile(h.sweep, []byte(sweepYAML(cfg)), 0o644); err != nil {
		return rep, err
	}
	if h.faultLog, err = os.Create(filepath.Join(h.dir, "faults.log")); err != nil {
		return rep, err
	}

	refDB := cfg.RefDB
	if refDB == "" {
		refDB = filepath.Join(h.dir, "ref.db")
		h.logf("reference: the sweep fault-free (flatsweep run, %d workers)", cfg.Workers*cfg.Slots)
		t0 := time.Now()
		if _, err := h.cli(ctx, "run", h.sweep, "--db", refDB, "--workers", strconv.Itoa(cfg.Workers*cfg.Slots), "--format", "csv"); err != nil {
			return rep, fmt.Errorf("reference run: %w", err)
		}
		rep.RefSeconds = time.Since(t0).Seconds()
		h.logf("reference done in %.1fs", rep.RefSeconds)
	}

	if err := h.startCluster(ctx); err != nil {
		return rep, err
	}
	out, err := h.cli(ctx, "submit", h.sweep, "--coordinator", h.addr())
	if err != nil {
		return rep, fmt.Errorf("submit: %w", err)
	}
	h.start = time.Now()
	h.logf("%s", strings.TrimSpace(out))

	// Chaos: faults until the sweep is done or the duration is up.
	chaosCtx, stopChaos := context.WithCancel(ctx)
	injDone := make(chan struct{})
	go func() {
		defer close(injDone)
		h.inject(chaosCtx)
	}()
	sw, err := h.waitSweep(ctx, cfg.Duration)
	stopChaos()
	<-injDone
	rep.ChaosSeconds = time.Since(h.start).Seconds()
	rep.DoneInChaos = doneCount(sw)
	if err != nil && !errors.Is(err, errTimeout) {
		return rep, err
	}

	// The fault-free end: heal everything and let the sweep finish.
	if err := h.heal(ctx); err != nil {
		return rep, err
	}
	h.logf("faults stopped after %s; %d of %d trials done; letting the sweep finish", time.Since(h.start).Round(time.Second), rep.DoneInChaos, gridSize(cfg))
	t0 := time.Now()
	sw, err = h.waitSweep(ctx, cfg.SettleTimeout)
	rep.SettleSeconds = time.Since(t0).Seconds()
	rep.TotalSeconds = time.Since(h.start).Seconds()
	if err != nil && !errors.Is(err, errTimeout) {
		return rep, err
	}
	if errors.Is(err, errTimeout) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the sweep did not finish within -settle-timeout %s after the faults stopped", cfg.SettleTimeout))
		// Freeze the unfinished sweep before checking it: with the workers
		// stopped nothing changes, so the coordinator's counts, the backup
		// and the file describe one state, and the trials not yet run show
		// as lost (pending after 0 attempts), not as damage.
		h.stopWorkers()
		if sw, err = h.getSweep(ctx); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("reading the sweep after stopping the workers: %v", err))
		}
	}
	var counts map[string]int32
	if sw != nil {
		counts = sw.StateCounts
	}

	// A hot backup from the live coordinator, then a clean stop.
	backup := filepath.Join(h.dir, "backup.db")
	if _, err := h.cli(ctx, "backup", backup, "--coordinator", h.addr()); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("backup: %v", err))
		backup = ""
	}
	h.stopAll()

	h.mu.Lock()
	for k, n := range h.faults {
		rep.Faults[string(k)] = n
	}
	rep.Problems = append(rep.Problems, h.problems...)
	h.mu.Unlock()
	if err := h.account(ctx, rep, refDB, backup, counts); err != nil {
		return rep, err
	}
	return rep, nil
}

// buildBinary builds cmd/flatsweep (without the race detector) to out.
func buildBinary(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/flatsweep/flatsweep/cmd/flatsweep")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/flatsweep: %w\n%s", err, stderr.String())
	}
	return nil
}

// cli runs a short flatsweep command and returns its standard output.
func (h *harness) cli(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, h.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("flatsweep %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// logf writes a progress line.
func (h *harness) logf(format string, args ...any) {
	if h.progress == nil {
		return
	}
	el := ""
	if !h.start.IsZero() {
		el = fmt.Sprintf("[%7.1fs] ", time.Since(h.start).Seconds())
	}
	fmt.Fprintf(h.progress, "chaos: %s%s\n", el, fmt.Sprintf(format, args...))
}

// event records one fault in faults.log (and on the progress writer with -v).
func (h *harness) event(format string, args ...any) {
	line := fmt.Sprintf("%8.2fs %s", time.Since(h.start).Seconds(), fmt.Sprintf(format, args...))
	if h.faultLog != nil {
		fmt.Fprintln(h.faultLog, line)
	}
	if h.cfg.Verbose && h.progress != nil {
		fmt.Fprintf(h.progress, "chaos: %s\n", line)
	}
}

// addr is the current coordinator's address.
func (h *harness) addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.coordAddr
}

// startCluster starts the coordinator, one proxy per worker and the workers.
func (h *harness) startCluster(ctx context.Context) error {
	if err := h.startCoordinator(ctx); err != nil {
		return err
	}
	for i := 0; i < h.cfg.Workers; i++ {
		p, err := newProxy(h.addr())
		if err != nil {
			return err
		}
		h.proxies = append(h.proxies, p)
		h.workers = append(h.workers, nil)
		h.workerGen = append(h.workerGen, 0)
		if err := h.startWorker(i); err != nil {
			return err
		}
	}
	return nil
}

// startCoordinator starts a coordinator on the run's database and points the
// proxies at it.
func (h *harness) startCoordinator(ctx context.Context) error {
	h.mu.Lock()
	gen := h.coordGen
	h.coordGen++
	h.mu.Unlock()
	ready := make(chan string, 1)
	onLine := func(rec map[string]any) {
		if rec["msg"] == "coordinator listening" {
			if a, ok := rec["addr"].(string); ok {
				select {
				case ready <- a:
				default:
				}
			}
		}
	}
	var lastErr error
	for try := 0; try < 5; try++ {
		name := fmt.Sprintf("coordinator-%d", gen)
		c, err := startChild(name, filepath.Join(h.dir, name+".log"), h.bin, onLine,
			"coordinator", "--listen", "127.0.0.1:0", "--db", filepath.Join(h.dir, "chaos.db"),
			"--lease-ttl", h.cfg.LeaseTTL.String(), "--max-attempts", strconv.Itoa(h.cfg.MaxAttempts))
		if err != nil {
			return err
		}
		h.mu.Lock()
		h.coords = append(h.coords, c)
		h.mu.Unlock()
		select {
		case a := <-ready:
			h.mu.Lock()
			h.coord, h.coordAddr = c, a
			for _, p := range h.proxies {
				p.setTarget(a)
			}
			h.mu.Unlock()
			return nil
		case <-c.done:
			lastErr = fmt.Errorf("%s exited before listening: %v (log %s)", name, c.exitErr, c.logPath)
		case <-time.After(30 * time.Second):
			c.kill()
			lastErr = fmt.Errorf("%s did not listen within 30s (log %s)", name, c.logPath)
		case <-ctx.Done():
			c.kill()
			return ctx.Err()
		}
		time.Sleep(500 * time.Millisecond)
	}
	return lastErr
}

// startWorker starts (or replaces) worker i, connected through proxy i.
func (h *harness) startWorker(i int) error {
	h.mu.Lock()
	gen := h.workerGen[i]
	h.workerGen[i]++
	h.mu.Unlock()
	name := fmt.Sprintf("worker-%d.%d", i, gen)
	c, err := startChild(name, filepath.Join(h.dir, name+".log"), h.bin, nil,
		"worker", "--coordinator", h.proxies[i].addr(), "--name", name,
		"--slots", strconv.Itoa(h.cfg.Slots), "--drain-timeout", "0s")
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.workers[i] = c
	h.allWork = append(h.allWork, c)
	h.mu.Unlock()
	return nil
}

// errTimeout is returned by waitSweep when the sweep is not done in time.
var errTimeout = errors.New("timed out")

// doneCount is the number of finished trials of a sweep (nil: 0).
func doneCount(sw *pb.Sweep) int {
	if sw == nil {
		return 0
	}
	sc := sw.StateCounts
	return int(sc["succeeded"] + sc["discarded"] + sc["cancelled"])
}

// waitSweep polls the coordinator until every trial is finished or d has
// passed, returning the last sweep it read. The coordinator may be down or
// restarting meanwhile.
func (h *harness) waitSweep(ctx context.Context, d time.Duration) (*pb.Sweep, error) {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last *pb.Sweep
	lastDone, lastLog := -1, time.Time{}
	for {
		if sw, err := h.getSweep(ctx); err == nil {
			last = sw
			done := doneCount(sw)
			h.done.Store(int64(done))
			if done != lastDone && time.Since(lastLog) > 10*time.Second || done == int(sw.TrialCount) {
				h.logf("%d/%d trials done", done, sw.TrialCount)
				lastDone, lastLog = done, time.Now()
			}
			if done == int(sw.TrialCount) {
				return sw, nil
			}
		}
		h.reviveUnexpected(ctx)
		if !time.Now().Before(deadline) {
			return last, errTimeout
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-tick.C:
		}
	}
}

// getSweep reads the sweep from the current coordinator.
func (h *harness) getSweep(ctx context.Context) (*pb.Sweep, error) {
	addr := h.addr()
	h.mu.Lock()
	if h.ctlAddr != addr {
		if h.ctlConn != nil {
			_ = h.ctlConn.Close()
		}
		h.ctlConn, h.ctlAddr = nil, ""
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			h.mu.Unlock()
			return nil, err
		}
		h.ctlConn, h.ctlAddr = conn, addr
	}
	conn := h.ctlConn
	h.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := pb.NewSweepServiceClient(conn).GetSweep(cctx, &pb.GetSweepRequest{SweepId: sweepName})
	if err != nil {
		return nil, err
	}
	return resp.Sweep, nil
}

// reviveUnexpected replaces processes that ended without the harness asking
// them to; each such exit is reported as a problem.
func (h *harness) reviveUnexpected(ctx context.Context) {
	type dead struct {
		i int
		c *child
	}
	var gone []dead
	h.mu.Lock()
	for i, w := range h.workers {
		if w != nil && w.unexpected() {
			gone = append(gone, dead{i, w})
		}
	}
	h.mu.Unlock()
	for _, d := range gone {
		h.addProblem(fmt.Sprintf("worker %s exited by itself: %v (log %s)", d.c.name, d.c.exitErr, d.c.logPath))
		h.event("worker %s exited by itself (%v); starting a replacement", d.c.name, d.c.exitErr)
		if err := h.startWorker(d.i); err != nil {
			h.addProblem(fmt.Sprintf("replace worker %d: %v", d.i, err))
		}
	}
	if !h.coordMu.TryLock() {
		return // the injector is killing or restarting it
	}
	defer h.coordMu.Unlock()
	h.mu.Lock()
	c := h.coord
	h.mu.Unlock()
	if c != nil && c.unexpected() {
		h.addProblem(fmt.Sprintf("coordinator %s exited by itself: %v (log %s)", c.name, c.exitErr, c.logPath))
		h.event("coordinator %s exited by itself (%v); restarting it", c.name, c.exitErr)
		if err := h.startCoordinator(ctx); err != nil {
			h.addProblem(fmt.Sprintf("restart the coordinator: %v", err))
		}
	}
}

// addProblem records something that makes the run fail.
func (h *harness) addProblem(p string) {
	h.mu.Lock()
	h.problems = append(h.problems, p)
	h.mu.Unlock()
}

// heal ends every fault in force: stopped workers continue, partitions and
// stalls end, a coordinator that is down is started, and every worker runs.
func (h *harness) heal(ctx context.Context) error {
	h.mu.Lock()
	workers := append([]*child(nil), h.workers...)
	coord := h.coord
	h.mu.Unlock()
	for _, w := range workers {
		w.resume()
	}
	if coord != nil {
		coord.resume()
	}
	for _, p := range h.proxies {
		p.heal()
	}
	if coord == nil || coord.exited() {
		if coord != nil && coord.unexpected() {
			h.addProblem(fmt.Sprintf("coordinator %s exited by itself: %v (log %s)", coord.name, coord.exitErr, coord.logPath))
		}
		if err := h.startCoordinator(ctx); err != nil {
			return err
		}
	}
	for i, w := range workers {
		if w == nil || w.exited() {
			if w != nil && w.unexpected() {
				h.addProblem(fmt.Sprintf("worker %s exited by itself: %v (log %s)", w.name, w.exitErr, w.logPath))
			}
			if err := h.startWorker(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// stopAll ends the workers and the coordinator (SIGTERM, then SIGKILL) and
// closes the proxies.
func (h *harness) stopAll() {
	h.stopWorkers()
	h.mu.Lock()
	coord := h.coord
	h.mu.Unlock()
	if coord != nil && !coord.terminate(15*time.Second) {
		h.addProblem(fmt.Sprintf("coordinator %s did not stop within 15s of SIGTERM (log %s)", coord.name, coord.logPath))
	}
	for _, p := range h.proxies {
		p.close()
	}
	h.mu.Lock()
	if h.ctlConn != nil {
		_ = h.ctlConn.Close()
		h.ctlConn, h.ctlAddr = nil, ""
	}
	h.mu.Unlock()
}

// stopWorkers ends the workers (SIGTERM, then SIGKILL); stopping one that
// has exited already does nothing.
func (h *harness) stopWorkers() {
	h.mu.Lock()
	workers := append([]*child(nil), h.workers...)
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range workers {
		if w == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !w.terminate(15 * time.Second) {
				h.addProblem(fmt.Sprintf("worker %s did not stop within 15s of SIGTERM (log %s)", w.name, w.logPath))
			}
		}()
	}
	wg.Wait()
}

// cleanup kills whatever still runs (after an error).
func (h *harness) cleanup() {
	h.mu.Lock()
	procs := append(append([]*child(nil), h.allWork...), h.coords...)
	h.mu.Unlock()
	for _, c := range procs {
		if !c.exited() {
			c.kill()
		}
	}
	for _, p := range h.proxies {
		p.close()
	}
	if h.ctlConn != nil {
		_ = h.ctlConn.Close()
	}
	if h.faultLog != nil {
		_ = h.faultLog.Close()
	}
}

// jitter returns a duration uniform in [lo, hi].
func jitter(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}
