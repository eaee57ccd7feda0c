// Package worker pulls trials from a coordinator and runs them. While it has
// a free slot it asks for a lease (long-poll), telling the coordinator how
// many slots are free, and runs the leased trial — compute.RunTrial, or the
// user's program for a command trial, which occupies command.slots of them —
// under a context that is cancelled when the lease is lost, heartbeats the
// lease while streaming per-epoch metrics, and reports the result with the
// lease token.
// The calls travel over one WorkerService.Session stream per worker (see
// session.go). Lost connections are retried with capped exponential backoff,
// and a worker that the coordinator no longer knows (after a coordinator
// restart) registers again, so workers reconnect by themselves.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// RunFunc runs one trial; compute.RunTrial is the production implementation.
type RunFunc func(ctx context.Context, spec spec.Trial, progress func(spec.EpochMetrics)) (spec.Result, error)

// Config configures a worker.
type Config struct {
	// Name identifies the worker in the coordinator's listings (default: host name).
	Name string
	// Slots is the number of slots (default 1): as many trials run at once,
	// a command trial with command.slots = k counting k times.
	Slots int
	// Labels are free-form key/value labels.
	Labels map[string]string
	// Run runs a trial (default compute.RunTrial).
	Run RunFunc
	// AcquireWait is the long-poll time of an acquire call (default 10s).
	AcquireWait time.Duration
	// MaxBackoff caps the reconnect backoff (default 5s).
	MaxBackoff time.Duration
	// DrainTimeout is how long running trials may go on after Run's context
	// ends (a SIGTERM): no new trial is taken, and trials still running when
	// it elapses are stopped and handed back to the coordinator. 0 hands them
	// back at once.
	DrainTimeout time.Duration
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Command configures the running of command trials (see CommandConfig).
	Command CommandConfig
	// Simulate, if not nil, replaces Run by a timed sleep and marks every
	// result simulated (see Simulation): for benchmarks of the coordinator.
	Simulate *Simulation
}

// Worker runs trials leased from one coordinator.
type Worker struct {
	cfg    Config
	client pb.WorkerServiceClient // RegisterWorker
	sess   *Session               // every other call, set by Run
	log    *slog.Logger

	mu        sync.Mutex
	id        string
	heartbeat time.Duration
	running   map[string]runningTrial   // by sweep/trial
	logs      map[string]*pb.CommandLog // command trials' logs, by lease token
	gpus      *gpuPool
	slots     *slotPool

	abortOnce sync.Once
	abort     chan struct{}
}

// New returns a worker talking to the coordinator over conn.
func New(conn grpc.ClientConnInterface, cfg Config) *Worker {
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	if cfg.Slots <= 0 {
		cfg.Slots = 1
	}
	cfg.simulate()
	if cfg.Run == nil {
		cfg.Run = compute.RunTrial
	}
	if cfg.AcquireWait <= 0 {
		cfg.AcquireWait = 10 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Command.setDefaults()
	return &Worker{cfg: cfg, client: pb.NewWorkerServiceClient(conn), log: cfg.Logger, abort: make(chan struct{}),
		running: map[string]runningTrial{}, logs: map[string]*pb.CommandLog{}, gpus: newGPUPool(cfg.Command.GPUs),
		slots: newSlotPool(cfg.Slots)}
}

// runningTrial is a trial a slot runs: its lease token and how to stop it.
type runningTrial struct {
	token string
	stop  context.CancelCauseFunc
}

// track records a running trial, for revocations; the returned function
// forgets it.
func (w *Worker) track(l *pb.Lease, stop context.CancelCauseFunc) func() {
	k := l.SweepId + "/" + l.TrialId
	w.mu.Lock()
	w.running[k] = runningTrial{token: l.Token, stop: stop}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		if r, ok := w.running[k]; ok && r.token == l.Token {
			delete(w.running, k)
		}
		w.mu.Unlock()
	}
}

// revoked stops a trial whose lease the coordinator ended, if it still runs
// under that lease.
func (w *Worker) revoked(l *pb.RevokedLease) {
	w.mu.Lock()
	r, ok := w.running[l.SweepId+"/"+l.TrialId]
	w.mu.Unlock()
	if ok && r.token == l.Token {
		r.stop(errCancelled)
	}
}

// Abort ends a drain early: trials still running are stopped and handed back.
func (w *Worker) Abort() { w.abortOnce.Do(func() { close(w.abort) }) }

// Run works until ctx is cancelled, then drains: it takes no new trial,
// lets running ones finish for up to DrainTimeout (or until Abort), hands
// back those still running, and returns nil once every slot is idle.
func (w *Worker) Run(ctx context.Context) error {
	if _, err := w.register(ctx, ""); err != nil {
		return err
	}
	// The session outlives ctx: a draining worker still reports.
	w.sess = NewSession(context.WithoutCancel(ctx), w.client, w.log)
	w.sess.OnRevoke(w.revoked)
	defer w.sess.Close()
	// Trials run under hard, which outlives ctx by the drain period.
	hard, stopHard := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHard()
	go func() {
		select {
		case <-ctx.Done():
		case <-hard.Done():
			return
		}
		w.log.Info("draining: no new trials", "drain_timeout", w.cfg.DrainTimeout)
		t := time.NewTimer(w.cfg.DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
		case <-w.abort:
		case <-hard.Done():
		}
		stopHard()
	}()
	var wg sync.WaitGroup
	w.dispatch(ctx, hard, &wg)
	wg.Wait()
	return nil
}

// register (re-)registers unless another slot already did so after stale was
// found to be unknown; it retries until ctx ends.
func (w *Worker) register(ctx context.Context, stale string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.id != "" && w.id != stale {
		return w.id, nil
	}
	req := &pb.RegisterWorkerRequest{Name: w.cfg.Name, Slots: int32(w.cfg.Slots), Labels: w.cfg.Labels, Gpus: int32(w.cfg.Command.GPUs),
		Commands: w.cfg.Command.Allow}
	for attempt := 0; ; attempt++ {
		resp, err := w.client.RegisterWorker(ctx, req)
		if err == nil {
			w.id = resp.WorkerId
			w.heartbeat = resp.HeartbeatInterval.AsDuration()
			w.log.Info("registered with coordinator", "worker", w.id, "slots", w.cfg.Slots,
				"lease_ttl", resp.LeaseTtl.AsDuration(), "heartbeat", w.heartbeat)
			return w.id, nil
		}
		if !retryable(err) {
			return "", fmt.Errorf("register worker: %w", err)
		}
		w.log.Warn("coordinator unreachable, retrying", "err", err)
		if err := sleep(ctx, w.backoff(attempt)); err != nil {
			return "", err
		}
	}
}

func (w *Worker) identity() (string, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.id, w.heartbeat
}

// retryable reports whether a call may succeed if repeated later.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Internal, codes.Unknown:
		return true
	}
	return false
}

// backoff returns a jittered capped exponential delay for the given retry.
func (w *Worker) backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 10)
	d = min(d, w.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dispatch leases trials until ctx ends, while slots are free, and starts
// each under hard on wg. Each request reserves every free slot and tells
// the coordinator their number; a trial leased gets the slots it occupies
// (Slots of its command, 1 for others) until it ends, and the rest are
// freed. A request waiting while a trial ends is withdrawn and made again
// with the larger count, so that a trial needing more slots is not held
// back by a stale count.
func (w *Worker) dispatch(ctx, hard context.Context, wg *sync.WaitGroup) {
	failures := 0
	for ctx.Err() == nil {
		free, freed, err := w.slots.takeAll(ctx)
		if err != nil {
			return
		}
		actx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-freed:
				cancel()
			case <-actx.Done():
			}
		}()
		id, _ := w.identity()
		resp, err := w.sess.AcquireTrial(actx, &pb.AcquireTrialRequest{
			WorkerId: id, Wait: durationpb.New(w.cfg.AcquireWait), FreeSlots: int32(free),
		})
		withdrawn := actx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			w.slots.give(free)
			if l := resp.GetLease(); err == nil && l != nil {
				// Leased as the worker began to drain: hand it back unrun.
				rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), w.reportTimeout())
				w.release(rctx, l, w.log.With("sweep", l.SweepId, "trial", l.TrialId))
				rcancel()
			}
			return
		case err != nil && withdrawn:
			w.slots.give(free) // slots were freed meanwhile: ask again
			continue
		case status.Code(err) == codes.NotFound:
			w.slots.give(free)
			if _, err := w.register(ctx, id); err != nil {
				return
			}
			continue
		case err != nil:
			w.slots.give(free)
			w.log.Warn("acquire failed, retrying", "err", err)
			_ = sleep(ctx, w.backoff(failures))
			failures++
			continue
		}
		failures = 0
		l := resp.Lease
		if l == nil {
			w.slots.give(free)
			continue
		}
		st, need, specErr := leaseSpec(l)
		if need > free {
			// Only a coordinator that does not match free slots leases
			// such a trial: it runs, and no other starts until enough end.
			w.log.Warn("trial leased with fewer free slots than it occupies", "sweep", l.SweepId, "trial", l.TrialId,
				"slots", need, "free", free)
		}
		w.slots.give(free - need)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.slots.give(need)
			w.runLease(hard, l, st, specErr)
		}()
	}
}

// leaseSpec decodes a leased trial's spec and returns it with the slots
// the trial occupies: its command's Slots, 1 for other trials and for a
// spec that does not decode (runLease fails it with the error).
func leaseSpec(l *pb.Lease) (spec.Trial, int, error) {
	st, err := spec.DecodeTrial([]byte(l.SpecJson))
	if err != nil || !st.IsCommand() {
		return st, 1, err
	}
	return st, max(st.Command.SlotsNeeded(), 1), nil
}

// slotPool counts a worker's free slots.
type slotPool struct {
	mu    sync.Mutex
	free  int           // below 0 while a trial over-commits (see dispatch)
	freed chan struct{} // closed, and replaced, when slots are given back
}

func newSlotPool(n int) *slotPool { return &slotPool{free: n, freed: make(chan struct{})} }

// takeAll waits until a slot is free, then takes every free slot; it
// returns their number and a channel closed when more are given back.
func (p *slotPool) takeAll(ctx context.Context) (int, <-chan struct{}, error) {
	for {
		p.mu.Lock()
		n, freed := p.free, p.freed
		if n > 0 {
			p.free = 0
		}
		p.mu.Unlock()
		if n > 0 {
			return n, freed, nil
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	}
}

// give returns n slots (taking them when n < 0).
func (p *slotPool) give(n int) {
	if n == 0 {
		return
	}
	p.mu.Lock()
	p.free += n
	if n > 0 {
		close(p.freed)
		p.freed = make(chan struct{})
	}
	p.mu.Unlock()
}

// runLease runs one leased trial, whose spec st decoded with error err
// (see leaseSpec), and reports its outcome.
func (w *Worker) runLease(ctx context.Context, l *pb.Lease, st spec.Trial, err error) {
	log := w.log.With("sweep", l.SweepId, "trial", l.TrialId, "attempt", l.Attempt)
	if err != nil {
		w.fail(ctx, l, fmt.Errorf("lease spec: %w", err), true, log)
		return
	}
	trialCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer w.track(l, cancel)()
	defer w.forgetLog(l)

	hb := newHeartbeater(w, l, cancel, log)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		hb.loop(trialCtx)
	}()

	log.Info("trial started")
	start := time.Now()
	res, err := w.runTrial(trialCtx, l, st, hb.add)
	elapsed := time.Since(start)
	cancel(nil)
	<-hbDone

	// Reports get a context of their own: a draining worker still delivers
	// what it finished, for as long as the lease could be valid.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), w.reportTimeout())
	defer rcancel()
	var rejected *rejectedError
	switch {
	case errors.Is(context.Cause(trialCtx), errCancelled):
		log.Info("trial stopped: " + wire.CancelledReason)
		w.uploadLog(rctx, l, "stopped: "+wire.CancelledReason, log)
	case errors.Is(context.Cause(trialCtx), errLeaseLost):
		log.Warn("trial abandoned: lease lost")
		w.uploadLog(rctx, l, "stopped: its lease was lost", log)
	case errors.As(context.Cause(trialCtx), &rejected):
		w.fail(rctx, l, rejected, true, log)
	case ctx.Err() != nil:
		w.release(rctx, l, log)
	case err != nil:
		w.fail(rctx, l, err, compute.IsInputError(err), log)
	default:
		if err := w.complete(rctx, l, w.resultToProto(res, elapsed), log); err != nil {
			w.fail(rctx, l, err, true, log)
			return
		}
		log.Info("trial finished", "seconds", elapsed.Seconds(), "test_acc", res.TestAcc, "lambda_max", res.LambdaMax)
	}
}

// run runs a trial, containing a panic: it becomes the trial's error, with
// the panic's message and stack, and the worker goes on with its next trial.
// (Only a recoverable panic is contained; a fatal runtime error, such as
// running out of memory, still ends the process.)
func (w *Worker) run(ctx context.Context, st spec.Trial, progress func(spec.EpochMetrics)) (res spec.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, stack())
		}
	}()
	return w.cfg.Run(ctx, st, progress)
}

// stack returns the stack of the calling goroutine, trimmed to maxStack
// bytes.
func stack() []byte {
	const maxStack = 2048
	buf := make([]byte, 16<<10)
	buf = buf[:runtime.Stack(buf, false)]
	if len(buf) > maxStack {
		buf = buf[:maxStack]
	}
	return buf
}

// rejectedError is a report the coordinator refused as invalid
// (InvalidArgument): a result or curve beyond its limits or not a valid
// measurement. Sending it again cannot succeed, so the trial fails for good
// with the coordinator's reason.
type rejectedError struct{ err error }

func (e *rejectedError) Error() string {
	return "the coordinator rejected the trial's report: " + status.Convert(e.err).Message()
}
func (e *rejectedError) Unwrap() error { return e.err }

// reportTimeout bounds the reporting of one trial's outcome.
func (w *Worker) reportTimeout() time.Duration {
	_, hb := w.identity()
	return max(10*hb, 30*time.Second)
}

// release hands an unfinished trial back to the coordinator.
func (w *Worker) release(ctx context.Context, l *pb.Lease, log *slog.Logger) {
	for attempt := 0; ; attempt++ {
		id, _ := w.identity()
		_, err := w.sess.ReleaseTrial(ctx, &pb.ReleaseTrialRequest{
			WorkerId: id, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token,
		})
		if err == nil {
			log.Info("trial handed back unfinished")
			return
		}
		if !retryable(err) || sleep(ctx, w.backoff(attempt)) != nil {
			log.Warn("could not hand the trial back; its lease will expire", "err", err)
			return
		}
	}
}

var (
	errLeaseLost = errors.New("lease lost")
	// errCancelled stops a trial whose sweep was cancelled: a deliberate
	// stop, with nothing to report.
	errCancelled = errors.New(wire.CancelledReason)
)

// complete reports a result, retrying transient errors until the coordinator
// answers: a retried report of the same result is acknowledged as a
// duplicate. A result the coordinator refuses as invalid is returned as a
// rejectedError, for the caller to fail the trial with.
func (w *Worker) complete(ctx context.Context, l *pb.Lease, res *pb.TrialResult, log *slog.Logger) error {
	for attempt := 0; ; attempt++ {
		id, _ := w.identity()
		resp, err := w.sess.CompleteTrial(ctx, &pb.CompleteTrialRequest{
			WorkerId: id, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Result: res, Log: w.logFor(l),
		})
		if err == nil {
			if resp.Duplicate {
				log.Info("result was already recorded")
			}
			return nil
		}
		if status.Code(err) == codes.InvalidArgument {
			return &rejectedError{err}
		}
		if wire.IsCancelled(err) {
			log.Info("result not recorded: " + wire.CancelledReason)
			return nil
		}
		if !retryable(err) {
			log.Error("result rejected", "err", err)
			return nil
		}
		log.Warn("reporting result failed, retrying", "err", err)
		if sleep(ctx, w.backoff(attempt)) != nil {
			return nil
		}
	}
}

// fail reports a failed attempt, retrying transient errors. A permanent
// failure (an error of the trial's input, see compute.IsInputError) is not
// retried by the coordinator.
func (w *Worker) fail(ctx context.Context, l *pb.Lease, cause error, permanent bool, log *slog.Logger) {
	log.Error("trial failed", "err", cause, "permanent", permanent)
	for attempt := 0; ; attempt++ {
		id, _ := w.identity()
		_, err := w.sess.FailTrial(ctx, &pb.FailTrialRequest{
			WorkerId: id, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Error: cause.Error(), Permanent: permanent,
			Log: w.failedLog(l, cause),
		})
		if err == nil || !retryable(err) {
			return
		}
		if sleep(ctx, w.backoff(attempt)) != nil {
			return
		}
	}
}

// heartbeater renews one lease and streams the epochs the trial reports.
type heartbeater struct {
	w      *Worker
	l      *pb.Lease
	cancel context.CancelCauseFunc
	log    *slog.Logger

	mu      sync.Mutex
	pending []*pb.EpochMetrics
}

func newHeartbeater(w *Worker, l *pb.Lease, cancel context.CancelCauseFunc, log *slog.Logger) *heartbeater {
	return &heartbeater{w: w, l: l, cancel: cancel, log: log}
}

// add queues one epoch's metrics for the next heartbeat.
func (h *heartbeater) add(m spec.EpochMetrics) {
	h.mu.Lock()
	h.pending = append(h.pending, wire.EpochToProto(m))
	h.mu.Unlock()
}

func (h *heartbeater) loop(ctx context.Context) {
	_, interval := h.w.identity()
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		batch := h.pending
		h.mu.Unlock()
		id, _ := h.w.identity()
		// A heartbeat that gets no answer within an interval is given up, so
		// that a dead connection does not hold back the next one.
		cctx, cancel := context.WithTimeout(ctx, interval)
		_, err := h.w.sess.Heartbeat(cctx, &pb.HeartbeatRequest{
			WorkerId: id, SweepId: h.l.SweepId, TrialId: h.l.TrialId, Token: h.l.Token, NewMetrics: batch,
		})
		cancel()
		switch {
		case err == nil:
			h.mu.Lock()
			h.pending = h.pending[len(batch):]
			h.mu.Unlock()
		case wire.IsCancelled(err):
			h.cancel(errCancelled)
			return
		case status.Code(err) == codes.FailedPrecondition || status.Code(err) == codes.NotFound:
			h.log.Warn("lease lost, cancelling trial", "err", err)
			h.cancel(errLeaseLost)
			return
		case status.Code(err) == codes.InvalidArgument:
			h.log.Error("heartbeat rejected, stopping trial", "err", err)
			h.cancel(&rejectedError{err})
			return
		case ctx.Err() == nil:
			h.log.Warn("heartbeat failed", "err", err)
		}
	}
}
