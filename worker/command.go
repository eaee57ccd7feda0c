package worker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/compute/weights"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// CommandConfig configures how a worker runs command trials (trials whose
// spec has a command section, see spec.Command).
type CommandConfig struct {
	// Allow lets the worker run command trials: it registers as running
	// them, and only such workers are leased them. A command trial runs
	// any program its sweep names, with the worker's user and environment.
	Allow bool
	// WorkDir holds the attempts' directories, WorkDir/<sweep>/<trial>/attempt-<n>
	// (default: flatsweep-work under the system's temporary directory).
	WorkDir string
	// KeepWork keeps each attempt's directory after it ended (default: it
	// is removed once its outcome is reported).
	KeepWork bool
	// GPUs is the number of GPUs the worker has, indices 0…GPUs−1: a trial
	// needing g of them gets g free indices in CUDA_VISIBLE_DEVICES.
	GPUs int
	// LogTailBytes caps the tail of standard output and of standard error
	// kept per attempt and uploaded with its report (default 1 MiB each).
	LogTailBytes int
	// KillGrace is how long a program stopped with SIGTERM (a cancel, a
	// lost lease, a timeout) has before its process group gets SIGKILL
	// (default 10s).
	KillGrace time.Duration
}

// Files and environment of an attempt (docs/COMMANDS.md).
const (
	// MetricsFD is the file descriptor a program writes its per-epoch
	// metrics to, one JSON object per line.
	MetricsFD = 3
	// ResultFile is the program's final result, in FLATSWEEP_OUTPUT_DIR.
	ResultFile = "result.json"
	// WeightsFile is where the program may write its weights
	// (safetensors), in FLATSWEEP_OUTPUT_DIR.
	WeightsFile = "weights.safetensors"
	// ParamsFile holds the trial's parameters, in the attempt directory.
	ParamsFile = "params.json"
	// DataFile holds the trial's data set with command.data.
	DataFile = "data.safetensors"
)

// maxMetricsLine bounds one line of the metrics channel.
const maxMetricsLine = 64 << 10

// maxResultBytes bounds result.json.
const maxResultBytes = 16 << 20

// reasonTail is how much of the standard error's tail a failure reason quotes.
const reasonTail = 1500

func (c *CommandConfig) setDefaults() {
	if c.WorkDir == "" {
		c.WorkDir = filepath.Join(os.TempDir(), "flatsweep-work")
	}
	if c.LogTailBytes <= 0 {
		c.LogTailBytes = 1 << 20
	}
	if c.KillGrace <= 0 {
		c.KillGrace = 10 * time.Second
	}
}

// gpuPool hands out a worker's GPU indices to its command trials.
type gpuPool struct {
	mu   sync.Mutex
	free []bool
	wake chan struct{} // closed and replaced when indices are returned
}

func newGPUPool(n int) *gpuPool {
	p := &gpuPool{free: make([]bool, n), wake: make(chan struct{})}
	for i := range p.free {
		p.free[i] = true
	}
	return p
}

// take waits until k indices are free and returns them.
func (p *gpuPool) take(ctx context.Context, k int) ([]int, error) {
	if k > len(p.free) {
		return nil, fmt.Errorf("the trial needs %d GPUs; this worker has %d (flatsweep worker --gpus)", k, len(p.free))
	}
	for {
		p.mu.Lock()
		var got []int
		for i, f := range p.free {
			if f && len(got) < k {
				got = append(got, i)
			}
		}
		if len(got) == k {
			for _, i := range got {
				p.free[i] = false
			}
			p.mu.Unlock()
			return got, nil
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// give returns indices to the pool.
func (p *gpuPool) give(idx []int) {
	if len(idx) == 0 {
		return
	}
	p.mu.Lock()
	for _, i := range idx {
		p.free[i] = true
	}
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

// runTrial runs a leased trial: a command trial through runCommand (whose
// log is kept for the report, see logFor), any other through Config.Run.
func (w *Worker) runTrial(ctx context.Context, l *pb.Lease, st spec.Trial, progress func(spec.EpochMetrics)) (spec.Result, error) {
	if !st.IsCommand() {
		return w.run(ctx, st, progress)
	}
	if !w.cfg.Command.Allow {
		return spec.Result{}, errors.New("this worker does not run command trials (start it with flatsweep worker --allow-commands)")
	}
	res, log, err := w.runCommand(ctx, l, st, progress)
	if log != nil {
		id, _ := w.identity()
		log.WorkerId = id
		log.Outcome = "succeeded"
		if err != nil {
			log.Outcome = err.Error()
		}
		w.mu.Lock()
		w.logs[l.Token] = log
		w.mu.Unlock()
	}
	return res, err
}

// logFor returns the log of the attempt run under a lease (nil for a
// trial that is not a command).
func (w *Worker) logFor(l *pb.Lease) *pb.CommandLog {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logs[l.Token]
}

// failedLog returns the log of an attempt that fails with cause (nil for a
// trial that is not a command): its outcome is the cause, also when the
// program succeeded but its report was refused.
func (w *Worker) failedLog(l *pb.Lease, cause error) *pb.CommandLog {
	cl := w.logFor(l)
	if cl == nil {
		return nil
	}
	out := proto.Clone(cl).(*pb.CommandLog)
	out.Outcome = cause.Error()
	return out
}

// uploadLog sends the log of a command trial's attempt that ends without a
// report (a cancel, a lost lease), with outcome as its outcome, retrying
// for a while: the coordinator takes it once the attempt has ended on its
// side too.
func (w *Worker) uploadLog(ctx context.Context, l *pb.Lease, outcome string, log *slog.Logger) {
	cl := w.logFor(l)
	if cl == nil {
		return
	}
	cl = proto.Clone(cl).(*pb.CommandLog)
	cl.Outcome = outcome
	for attempt := 0; attempt < 8; attempt++ {
		id, _ := w.identity()
		_, err := w.client.LogAttempt(ctx, &pb.LogAttemptRequest{WorkerId: id, SweepId: l.SweepId, TrialId: l.TrialId, Log: cl})
		if err == nil {
			return
		}
		if !retryable(err) && status.Code(err) != codes.FailedPrecondition {
			log.Warn("the attempt's log was not stored", "err", err)
			return
		}
		if sleep(ctx, max(w.backoff(attempt), 200*time.Millisecond)) != nil {
			break
		}
	}
	log.Warn("the attempt's log was not stored: the coordinator did not take it")
}

// forgetLog drops the log of an attempt once it is reported.
func (w *Worker) forgetLog(l *pb.Lease) {
	w.mu.Lock()
	delete(w.logs, l.Token)
	w.mu.Unlock()
}

// attemptDir returns the fresh directory of an attempt.
func (w *Worker) attemptDir(l *pb.Lease) (string, error) {
	dir := filepath.Join(w.cfg.Command.WorkDir, filepath.Base(l.SweepId), filepath.Base(l.TrialId), "attempt-"+strconv.Itoa(int(l.Attempt)))
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("attempt directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("attempt directory: %w", err)
	}
	return dir, nil
}

// runCommand runs one attempt of a command trial: the program in a fresh
// directory and its own process group, its metrics streamed to progress,
// its result read from result.json and, with a model section, the
// curvature of the weights it wrote measured by flatsweep. The log holds
// the tails of its output; it is nil when the program never got as far as
// being set up.
func (w *Worker) runCommand(ctx context.Context, l *pb.Lease, st spec.Trial, progress func(spec.EpochMetrics)) (spec.Result, *pb.CommandLog, error) {
	if err := st.Validate(); err != nil {
		return spec.Result{}, nil, err
	}
	cmdSpec, err := st.Command.Expand(st)
	if err != nil {
		return spec.Result{}, nil, err
	}
	dir, err := w.attemptDir(l)
	if err != nil {
		return spec.Result{}, nil, err
	}
	if !w.cfg.Command.KeepWork {
		defer os.RemoveAll(dir)
	}
	var gpus []int
	if cmdSpec.GPUs > 0 {
		if gpus, err = w.gpus.take(ctx, cmdSpec.GPUs); err != nil {
			return spec.Result{}, nil, err
		}
		defer w.gpus.give(gpus)
	}
	env, err := w.attemptEnv(l, st, cmdSpec, dir, gpus)
	if err != nil {
		return spec.Result{}, nil, err
	}
	workDir := dir
	if cmdSpec.Dir != "" {
		if workDir, err = filepath.Abs(cmdSpec.Dir); err != nil {
			return spec.Result{}, nil, fmt.Errorf("command.dir %q: %w", cmdSpec.Dir, err)
		}
	}
	run := &attempt{
		cfg: w.cfg.Command, argv: cmdSpec.Argv, dir: workDir, env: env,
		timeout: cmdSpec.TimeoutDuration(), progress: progress,
		stdout: newTail(w.cfg.Command.LogTailBytes), stderr: newTail(w.cfg.Command.LogTailBytes),
	}
	runErr := run.run(ctx)
	log := &pb.CommandLog{
		Attempt: l.Attempt, ExitCode: int32(run.exitCode),
		Stdout: run.stdout.bytes(), Stderr: run.stderr.bytes(),
		StdoutDropped: run.stdout.dropped, StderrDropped: run.stderr.dropped,
	}
	if runErr != nil {
		return spec.Result{}, log, runErr
	}
	res, err := readResult(filepath.Join(dir, ResultFile), run.curve)
	if err != nil {
		return spec.Result{}, log, err
	}
	if st.Model.Arch != "" && !res.Diverged {
		if err := measureWeights(ctx, st, filepath.Join(dir, WeightsFile), &res); err != nil {
			return spec.Result{}, log, err
		}
	}
	return res, log, nil
}

// attemptEnv writes the attempt's parameters (and data, with command.data)
// and returns the program's environment.
func (w *Worker) attemptEnv(l *pb.Lease, st spec.Trial, c spec.Command, dir string, gpus []int) ([]string, error) {
	canon, err := spec.Canonical(st)
	if err != nil {
		return nil, fmt.Errorf("trial spec: %w", err)
	}
	params := map[string]json.RawMessage{}
	for _, name := range spec.AxisNames() {
		path, _ := spec.AxisPath(name)
		if v, err := spec.GetJSON(st, path); err == nil {
			params[name] = json.RawMessage(v)
		}
	}
	doc, err := json.MarshalIndent(struct {
		TrialID string                     `json:"trial_id"`
		SweepID string                     `json:"sweep_id"`
		Attempt int32                      `json:"attempt"`
		Params  map[string]json.RawMessage `json:"params"`
		Spec    json.RawMessage            `json:"spec"`
	}{l.TrialId, l.SweepId, l.Attempt, params, canon}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	paramsPath := filepath.Join(dir, ParamsFile)
	if err := os.WriteFile(paramsPath, append(doc, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	env := append(os.Environ(), c.Env...)
	env = append(env,
		"FLATSWEEP_TRIAL_ID="+l.TrialId,
		"FLATSWEEP_SWEEP_ID="+l.SweepId,
		"FLATSWEEP_ATTEMPT="+strconv.Itoa(int(l.Attempt)),
		"FLATSWEEP_PARAMS="+paramsPath,
		"FLATSWEEP_OUTPUT_DIR="+dir,
		"FLATSWEEP_RESULT="+filepath.Join(dir, ResultFile),
		"FLATSWEEP_WEIGHTS="+filepath.Join(dir, WeightsFile),
		"FLATSWEEP_METRICS_FD="+strconv.Itoa(MetricsFD),
		"FLATSWEEP_SLOTS="+strconv.Itoa(c.SlotsNeeded()),
	)
	if w.cfg.Command.GPUs > 0 {
		ids := make([]string, len(gpus))
		for i, g := range gpus {
			ids[i] = strconv.Itoa(g)
		}
		env = append(env, "CUDA_VISIBLE_DEVICES="+strings.Join(ids, ","))
	}
	if c.Data {
		path := filepath.Join(dir, DataFile)
		if err := writeData(st, path); err != nil {
			return nil, err
		}
		env = append(env, "FLATSWEEP_DATA="+path)
	}
	return env, nil
}

// writeData writes the trial's data set as float32 tensors train_x [N, d],
// train_y [N], test_x [N_test, d] and test_y [N_test], with the image shape
// and class count as metadata.
func writeData(st spec.Trial, path string) error {
	trainSet, testSet, err := compute.LoadDatasets(st.Dataset)
	if err != nil {
		return err
	}
	labels := func(y []int) []float64 {
		out := make([]float64, len(y))
		for i, v := range y {
			out[i] = float64(v)
		}
		return out
	}
	ts := []weights.Tensor{
		{Name: "train_x", Shape: []int{trainSet.Len(), trainSet.Features}, Data: trainSet.X},
		{Name: "train_y", Shape: []int{trainSet.Len()}, Data: labels(trainSet.Y)},
		{Name: "test_x", Shape: []int{testSet.Len(), testSet.Features}, Data: testSet.X},
		{Name: "test_y", Shape: []int{testSet.Len()}, Data: labels(testSet.Y)},
	}
	img := st.Input().Image
	meta := map[string]string{"classes": strconv.Itoa(trainSet.Classes), "features": strconv.Itoa(trainSet.Features)}
	if img.IsImage() {
		meta["image_shape"] = fmt.Sprintf("%d,%d,%d", img.C, img.H, img.W)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("data file: %w", err)
	}
	bw := bufio.NewWriter(f)
	if err := weights.WriteAs(bw, weights.F32, ts, meta); err != nil {
		_ = f.Close()
		return fmt.Errorf("data file: %w", err)
	}
	if err := bw.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("data file: %w", err)
	}
	return f.Close()
}

// attempt is one run of a program.
type attempt struct {
	cfg      CommandConfig
	argv     []string
	dir      string
	env      []string
	timeout  time.Duration
	progress func(spec.EpochMetrics)

	stdout, stderr *tail
	exitCode       int

	mu    sync.Mutex
	curve []spec.EpochMetrics
}

// run starts the program and waits for it. The program is stopped — its
// process group sent SIGTERM, then SIGKILL after KillGrace — when ctx ends,
// at the timeout, or when it writes a line that is not valid metrics. Its
// group is killed once the program exits, so no process it started
// outlives it. The error says why the attempt failed; nil when the program
// exited with status 0.
func (a *attempt) run(ctx context.Context) error {
	a.exitCode = -1
	c := exec.Command(a.argv[0], a.argv[1:]...)
	c.Dir, c.Env = a.dir, a.env
	setProcessGroup(c)
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("command: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(outR, outW)
		return fmt.Errorf("command: %w", err)
	}
	metR, metW, err := os.Pipe()
	if err != nil {
		closeAll(outR, outW, errR, errW)
		return fmt.Errorf("command: %w", err)
	}
	c.Stdout, c.Stderr, c.ExtraFiles = outW, errW, []*os.File{metW}
	startErr := c.Start()
	closeAll(outW, errW, metW) // the program holds its own copies
	if startErr != nil {
		closeAll(outR, errR, metR)
		return startError(a.argv[0], a.dir, startErr)
	}
	var readers sync.WaitGroup
	readers.Add(3)
	go func() { defer readers.Done(); _, _ = io.Copy(a.stdout, outR) }()
	go func() { defer readers.Done(); _, _ = io.Copy(a.stderr, errR) }()
	metricsErr := make(chan error, 1)
	go func() { defer readers.Done(); a.readMetrics(metR, metricsErr) }()

	waited := make(chan error, 1)
	go func() { waited <- c.Wait() }()
	var timeoutC <-chan time.Time
	if a.timeout > 0 {
		t := time.NewTimer(a.timeout)
		defer t.Stop()
		timeoutC = t.C
	}
	var (
		stopped error // why the program was stopped
		killC   <-chan time.Time
		waitErr error
		done    = ctx.Done()
	)
	stop := func(why error) {
		if stopped != nil {
			return
		}
		stopped = why
		_ = signalGroup(c.Process, sigTerm)
		killC = time.After(a.cfg.KillGrace)
	}
loop:
	for {
		select {
		case waitErr = <-waited:
			break loop
		case <-done:
			done = nil
			stop(context.Cause(ctx))
		case <-timeoutC:
			timeoutC = nil
			stop(fmt.Errorf("timed out after %s (command.timeout)", a.timeout))
		case err := <-metricsErr:
			stop(err)
		case <-killC:
			killC = nil
			_ = signalGroup(c.Process, sigKill)
		}
	}
	// Whatever the program left running in its group goes with it.
	_ = signalGroup(c.Process, sigKill)
	drained := make(chan struct{})
	go func() { readers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(a.cfg.KillGrace):
		// A process that left the group still holds a pipe: stop reading.
		closeAll(outR, errR, metR)
		<-drained
	}
	closeAll(outR, errR, metR)
	if stopped == nil {
		select {
		case err := <-metricsErr:
			stopped = err
		default:
		}
	}
	var exit *exec.ExitError
	if errors.As(waitErr, &exit) {
		a.exitCode = exit.ExitCode()
	} else if waitErr == nil {
		a.exitCode = 0
	}
	switch {
	case stopped != nil && ctx.Err() != nil:
		return stopped
	case stopped != nil:
		return fmt.Errorf("command %s: %w%s", a.argv[0], stopped, a.stderrQuote())
	case waitErr != nil:
		return fmt.Errorf("command %s: %s%s", a.argv[0], exitDescription(waitErr), a.stderrQuote())
	}
	return nil
}

// startError explains why a program could not be started. The cause is
// quoted, not wrapped: a program missing on this worker may be present on
// another, so the failure must not read as one of the trial's input
// (compute.IsInputError), which is never retried.
func startError(prog, dir string, err error) error {
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return fmt.Errorf("command %q not found on this worker (not in its PATH): %v", prog, err)
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(dir); serr != nil {
			return fmt.Errorf("command.dir %q does not exist on this worker: %v", dir, err)
		}
		return fmt.Errorf("command %q does not exist on this worker: %v", prog, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("command %q is not executable on this worker: %v", prog, err)
	}
	return fmt.Errorf("command %q could not be started: %v", prog, err)
}

// exitDescription describes how a program that failed ended.
func exitDescription(err error) string {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return err.Error()
	}
	if code := exit.ExitCode(); code >= 0 {
		return fmt.Sprintf("exited with status %d", code)
	}
	return "ended by " + exit.String()
}

// stderrQuote quotes the end of the program's standard error for a
// failure reason.
func (a *attempt) stderrQuote() string {
	b := bytes.TrimSpace(a.stderr.bytes())
	if len(b) == 0 {
		return "; its standard error is empty"
	}
	if len(b) > reasonTail {
		b = b[len(b)-reasonTail:]
		return "; its standard error ends:\n…" + strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return "; its standard error ends:\n" + strings.ToValidUTF8(string(b), "\uFFFD")
}

// closeAll closes files, ignoring errors (of files already closed too).
func closeAll(fs ...*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}

// metricsLine is one line of the metrics channel.
type metricsLine struct {
	Epoch     *int     `json:"epoch"`
	TrainLoss *float64 `json:"train_loss"`
	TrainAcc  *float64 `json:"train_acc"`
	TestLoss  *float64 `json:"test_loss"`
	TestAcc   *float64 `json:"test_acc"`
	Step      int      `json:"step"`
	LR        float64  `json:"lr"`
	BatchSize int      `json:"batch_size"`
}

// readMetrics parses the metrics channel, one JSON object per line, and
// streams each epoch. The first line that is not valid metrics is sent to
// errc; the rest of the channel is then read and ignored.
func (a *attempt) readMetrics(r io.Reader, errc chan<- error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxMetricsLine)
	line := 0
	last := 0
	fail := func(err error) {
		errc <- err
		_, _ = io.Copy(io.Discard, r)
	}
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		m, err := parseMetrics(b, last)
		if err != nil {
			fail(fmt.Errorf("metrics (fd %d) line %d: %w", MetricsFD, line, err))
			return
		}
		last = m.Epoch
		a.mu.Lock()
		a.curve = append(a.curve, m)
		a.mu.Unlock()
		if a.progress != nil {
			a.progress(m)
		}
	}
	if err := sc.Err(); err != nil {
		fail(fmt.Errorf("metrics (fd %d) line %d: %w (one JSON object per line, at most %d bytes)", MetricsFD, line+1, err, maxMetricsLine))
	}
}

// parseMetrics decodes one metrics line; last is the previous epoch.
func parseMetrics(b []byte, last int) (spec.EpochMetrics, error) {
	var m metricsLine
	if err := decodeObject(b, &m); err != nil {
		return spec.EpochMetrics{}, fmt.Errorf("not a JSON object of epoch metrics (%v): %.80q", err, b)
	}
	if m.Epoch == nil {
		return spec.EpochMetrics{}, errors.New(`missing "epoch" (epochs count from 1)`)
	}
	if *m.Epoch != last+1 {
		return spec.EpochMetrics{}, fmt.Errorf(`"epoch" = %d: expected %d (epochs count 1, 2, … in order)`, *m.Epoch, last+1)
	}
	out := spec.EpochMetrics{Epoch: *m.Epoch, Step: m.Step, LR: m.LR, BatchSize: m.BatchSize}
	vals, err := metricValues(m.TrainLoss, m.TrainAcc, m.TestLoss, m.TestAcc, false)
	if err != nil {
		return spec.EpochMetrics{}, err
	}
	out.TrainLoss, out.TrainAcc, out.TestLoss, out.TestAcc = vals[0], vals[1], vals[2], vals[3]
	if m.Step < 0 || m.BatchSize < 0 || !finite(m.LR) || m.LR < 0 {
		return spec.EpochMetrics{}, errors.New(`"step", "lr" and "batch_size" must be finite and ≥ 0`)
	}
	return out, nil
}

// decodeObject decodes b, one JSON value, into v, refusing unknown fields
// and trailing data.
func decodeObject(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the object")
	}
	return nil
}

// metricNames are the four required metrics, in metricValues's order.
var metricNames = [4]string{"train_loss", "train_acc", "test_loss", "test_acc"}

// metricValues checks the four required metrics: present (or, with
// nullable, null), losses finite and ≥ 0, accuracies in [0, 1]. A null
// value is returned as NaN.
func metricValues(trainLoss, trainAcc, testLoss, testAcc *float64, nullable bool) ([4]float64, error) {
	var out [4]float64
	for i, p := range []*float64{trainLoss, trainAcc, testLoss, testAcc} {
		name := metricNames[i]
		if p == nil {
			if nullable {
				out[i] = math.NaN()
				continue
			}
			return out, fmt.Errorf("missing %q (required: train_loss, train_acc, test_loss, test_acc)", name)
		}
		v := *p
		switch {
		case i%2 == 0 && (!finite(v) || v < 0):
			return out, fmt.Errorf("%q = %v: a loss must be finite and ≥ 0", name, v)
		case i%2 == 1 && !(v >= 0 && v <= 1):
			return out, fmt.Errorf("%q = %v: an accuracy must be a fraction in [0, 1]", name, v)
		}
		out[i] = v
	}
	return out, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// resultFile is the program's result.json.
type resultFile struct {
	TrainLoss *float64 `json:"train_loss"`
	TrainAcc  *float64 `json:"train_acc"`
	TestLoss  *float64 `json:"test_loss"`
	TestAcc   *float64 `json:"test_acc"`
	// Diverged says training diverged; the four metrics may then be null
	// and are taken from the last epoch of the curve.
	Diverged bool `json:"diverged"`
	// Steps is the number of parameter updates.
	Steps int `json:"steps"`
	// Params is the number of trainable parameters.
	Params int `json:"params"`
	// Metrics are further named metrics, stored with the result's measures.
	Metrics map[string]*float64 `json:"metrics"`
}

// readResult reads and checks result.json; the curve is the one streamed.
func readResult(path string, curve []spec.EpochMetrics) (spec.Result, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return spec.Result{}, fmt.Errorf("the program exited with status 0 but wrote no %s in FLATSWEEP_OUTPUT_DIR", ResultFile)
	}
	if err != nil {
		return spec.Result{}, fmt.Errorf("%s: %w", ResultFile, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxResultBytes+1))
	if err != nil {
		return spec.Result{}, fmt.Errorf("%s: %w", ResultFile, err)
	}
	if len(b) > maxResultBytes {
		return spec.Result{}, fmt.Errorf("%s: larger than %d bytes", ResultFile, maxResultBytes)
	}
	var rf resultFile
	if err := decodeObject(b, &rf); err != nil {
		return spec.Result{}, fmt.Errorf("%s is not valid JSON of a result: %w (expected an object with train_loss, train_acc, test_loss, test_acc and optionally diverged, steps, params, metrics)", ResultFile, err)
	}
	vals, err := metricValues(rf.TrainLoss, rf.TrainAcc, rf.TestLoss, rf.TestAcc, rf.Diverged)
	if err != nil {
		return spec.Result{}, fmt.Errorf("%s: %w", ResultFile, err)
	}
	for i, v := range vals {
		if !math.IsNaN(v) {
			continue
		}
		if len(curve) == 0 {
			return spec.Result{}, fmt.Errorf("%s: %q is null and no epoch was reported to take it from", ResultFile, metricNames[i])
		}
		e := curve[len(curve)-1]
		vals[i] = [4]float64{e.TrainLoss, e.TrainAcc, e.TestLoss, e.TestAcc}[i]
	}
	if rf.Steps < 0 || rf.Params < 0 {
		return spec.Result{}, fmt.Errorf("%s: steps and params must be ≥ 0", ResultFile)
	}
	res := spec.Result{
		TrainLoss: vals[0], TrainAcc: vals[1], TestLoss: vals[2], TestAcc: vals[3],
		Diverged: rf.Diverged, Steps: rf.Steps, Params: rf.Params, Curve: curve, External: true,
	}
	if res.Steps == 0 && len(curve) > 0 {
		res.Steps = curve[len(curve)-1].Step
	}
	for name, p := range rf.Metrics {
		switch {
		case name == "" || len(name) > 128:
			return spec.Result{}, fmt.Errorf("%s: metrics: name %.40q must be 1 to 128 bytes", ResultFile, name)
		case p == nil || !finite(*p):
			continue // left out, as every measure that is not finite
		}
		if res.Measures == nil {
			res.Measures = map[string]float64{}
		}
		res.Measures[name] = *p
	}
	return res, nil
}

// measureWeights measures the curvature of the weights the program wrote,
// as flatsweep measures its own trials: λ₁, the spec's measures and
// landscape over the trial's curvature examples.
func measureWeights(ctx context.Context, st spec.Trial, path string, res *spec.Result) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the sweep has a model section (model.arch %q) but the program wrote no weights at FLATSWEEP_WEIGHTS (%s)", st.Model.Arch, WeightsFile)
	}
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	defer f.Close()
	m, trainSet, testSet, err := compute.LoadModelSets(st, bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("%s does not hold the weights of the sweep's model (%s): %w", WeightsFile, st.Model.Arch, err)
	}
	meas, err := compute.Measure(ctx, st, m)
	if err != nil {
		return fmt.Errorf("curvature of %s: %w", WeightsFile, err)
	}
	res.Params = m.Net.NumParams()
	res.LambdaMax, res.LambdaResidual, res.LambdaConverged, res.HVPs = meas.LambdaMax, meas.LambdaResidual, meas.LambdaConverged, meas.HVPs
	res.Density = meas.Density
	for k, v := range meas.Measures {
		if res.Measures == nil {
			res.Measures = map[string]float64{}
		}
		res.Measures[k] = v
	}
	res.CurvatureIndices = compute.CurvatureIndices(st, trainSet.Len())
	res.CurvatureExamples = m.Examples.Len()
	if res.Landscape, err = compute.Landscape(ctx, st, m.Net, m.Theta, trainSet, testSet); err != nil {
		return fmt.Errorf("landscape of %s: %w", WeightsFile, err)
	}
	return nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int64
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > t.max { // trim at 2·max: amortized O(1)
		t.dropped += int64(over)
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// bytes returns the tail, at most max bytes.
func (t *tail) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if over := len(t.buf) - t.max; over > 0 {
		t.dropped += int64(over)
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return bytes.Clone(t.buf)
}
