// Package coordinator serves flatsweep's two gRPC services — SweepService for
// users and WorkerService for workers — over the durable store. It owns the
// lease table: a trial is leased to one worker at a time under a random token
// with an expiry; heartbeats renew it; a rescuer returns expired leases to
// pending; a result is accepted once and only with the current token.
package coordinator

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/sweeps"
)

// Clock tells the time. Tests inject a fake one so lease logic never sleeps.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Config holds the coordinator's lease and retry policy.
type Config struct {
	// LeaseTTL is how long a lease lives without a heartbeat (default 30s).
	LeaseTTL time.Duration
	// HeartbeatInterval is how often workers renew a lease (default LeaseTTL/3).
	HeartbeatInterval time.Duration
	// MaxAttempts is how many attempts a trial gets before it is discarded
	// (default 3). An expired lease counts as a failed attempt.
	MaxAttempts int
	// BackoffBase and BackoffMax bound the retry delay of a failed trial:
	// attempt a waits a uniformly jittered delay in [d/2, d] with
	// d = min(BackoffBase·2^(a−1), BackoffMax) (defaults 1s and 1m).
	BackoffBase, BackoffMax time.Duration
	// RescueInterval is how often expired leases and due retries are swept
	// (default 1s).
	RescueInterval time.Duration
	// Clock is the time source (default the system clock).
	Clock Clock
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 30 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = c.LeaseTTL / 3
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = time.Minute
	}
	if c.RescueInterval <= 0 {
		c.RescueInterval = time.Second
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// trialKey identifies a trial across sweeps.
type trialKey struct{ sweep, trial string }

// lease is the in-memory view of a running trial's lease; the store holds the
// same token and expiry so that a restarted coordinator rebuilds it.
type lease struct {
	token  string
	worker string
	expiry time.Time
	start  time.Time
	feat   [2]float64
}

type workerInfo struct {
	pb       *pb.Worker
	lastSeen time.Time
}

// Coordinator holds the lease table and the per-sweep queues over a store.
//
// Concurrency: mu guards the in-memory state only; store writes happen
// outside it, so that concurrent transitions are group-committed by the store.
// The store is the arbiter of every transition (each write re-checks the
// trial's stored state and token); the in-memory state is updated from the
// outcome of the write.
type Coordinator struct {
	cfg   Config
	store *store.Store
	log   *slog.Logger

	submitMu sync.Mutex // serializes SubmitSweep's store write and queue update

	mu         sync.Mutex
	sweeps     map[string]*sweepState
	retries    map[trialKey]time.Time // failed trials and when they become pending
	leases     map[trialKey]*lease
	workers    map[string]*workerInfo
	rows       map[string]*rowCache // per-sweep result rows, built on first query
	rowVersion map[string]int       // bumped by every change to a sweep's trials
	wake       chan struct{}        // closed and replaced whenever trials become pending
	jitter     *mrand.Rand
	metrics    *metrics

	tmplMu    sync.Mutex
	templates map[templateKey]*sweeps.SpecTemplate // nil values: no template

	metricsOnce sync.Once
	stopOnce    sync.Once
	stop        chan struct{}
	done        chan struct{}
}

// New builds a coordinator over an open store, rebuilding the queues, retry
// schedule and lease table from it. Leases found running get a fresh TTL so
// that their workers can reconnect and keep them.
func New(st *store.Store, cfg Config) (*Coordinator, error) {
	cfg.setDefaults()
	var seed [16]byte
	_, _ = rand.Read(seed[:])
	c := &Coordinator{
		cfg:        cfg,
		store:      st,
		log:        cfg.Logger,
		sweeps:     map[string]*sweepState{},
		retries:    map[trialKey]time.Time{},
		leases:     map[trialKey]*lease{},
		workers:    map[string]*workerInfo{},
		rows:       map[string]*rowCache{},
		rowVersion: map[string]int{},
		templates:  map[templateKey]*sweeps.SpecTemplate{},
		wake:       make(chan struct{}),
		jitter:     mrand.New(mrand.NewPCG(leUint64(seed[:8]), leUint64(seed[8:]))),
		metrics:    newMetrics(),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	sws, err := st.ListSweeps()
	if err != nil {
		return nil, fmt.Errorf("load sweeps: %w", err)
	}
	for _, sw := range sws {
		s := newSweepState(sw.Id)
		s.priority, s.paused, s.cancelled = sw.Priority, sw.Paused, sw.Cancelled
		c.sweeps[sw.Id] = s
	}
	now := cfg.Clock.Now()
	var decodeErr error
	err = st.AllTrials(func(t *pb.Trial) {
		s := c.sweeps[t.SweepId]
		if s == nil {
			return
		}
		k := trialKey{t.SweepId, t.Id}
		s.counts[t.State]++
		s.total++
		switch t.State {
		case pb.TrialState_TRIAL_STATE_PENDING:
			feat, err := c.features(t)
			if err != nil && decodeErr == nil {
				decodeErr = fmt.Errorf("trial %s/%s: %w", t.SweepId, t.Id, err)
			}
			s.push(c.pending(t, feat))
		case pb.TrialState_TRIAL_STATE_FAILED:
			c.retries[k] = t.RetryTime.AsTime()
		case pb.TrialState_TRIAL_STATE_RUNNING:
			exp := t.LeaseExpireTime.AsTime()
			if min := now.Add(cfg.LeaseTTL); exp.Before(min) {
				exp = min
			}
			feat, _ := c.features(t)
			c.leases[k] = &lease{token: t.LeaseToken, worker: t.WorkerId, expiry: exp, start: now, feat: feat}
			s.running++
		case pb.TrialState_TRIAL_STATE_SUCCEEDED:
			if t.Result != nil {
				feat, _ := c.features(t)
				s.model.observe(feat, time.Duration(t.Result.DurationSeconds*float64(time.Second)))
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("load trials: %w", err)
	}
	if decodeErr != nil {
		c.log.Warn("some stored trial specs could not be decoded; they are scheduled with a default cost", "err", decodeErr)
	}
	for _, s := range c.sweeps {
		for _, p := range s.queue {
			p.cost = s.model.predict(p.feat)
		}
		heap.Init(&s.queue)
	}
	c.metrics.setWorkers(0)
	c.log.Info("coordinator state loaded", "db", st.Path(), "sweeps", len(c.sweeps),
		"running", len(c.leases), "retrying", len(c.retries))
	return c, nil
}

// features returns a stored trial's cost features (a default when its spec
// cannot be read).
func (c *Coordinator) features(t *pb.Trial) ([2]float64, error) {
	spec, err := c.store.Spec(t)
	if err != nil {
		return [2]float64{1, 1}, err
	}
	return costFeatures(spec), nil
}

func leUint64(b []byte) uint64 {
	var x uint64
	for i := 7; i >= 0; i-- {
		x = x<<8 | uint64(b[i])
	}
	return x
}

// Register adds the SweepService, WorkerService and AdminService to a gRPC server.
func (c *Coordinator) Register(s grpc.ServiceRegistrar) {
	pb.RegisterSweepServiceServer(s, &sweepServer{c: c})
	pb.RegisterWorkerServiceServer(s, &workerServer{c: c})
	pb.RegisterAdminServiceServer(s, &adminServer{c: c})
}

// Start runs the rescuer until Stop is called or ctx ends.
func (c *Coordinator) Start(ctx context.Context) {
	go func() {
		defer close(c.done)
		t := time.NewTicker(c.cfg.RescueInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.stop:
				return
			case <-t.C:
				c.Rescue()
			}
		}
	}()
}

// Stop stops the rescuer and waits for it.
func (c *Coordinator) Stop() {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
}

// newToken returns a random lease token.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// wakeLocked wakes acquirers waiting for pending trials.
func (c *Coordinator) wakeLocked() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// backoff returns the retry delay after the given attempt, jittered by
// u ∈ [0, 1]: d/2 + u·d/2 with d = min(BackoffBase·2^(attempt−1), BackoffMax).
func (c *Coordinator) backoff(attempt int32, u float64) time.Duration {
	d := c.cfg.BackoffBase
	for i := int32(1); i < attempt && d < c.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.BackoffMax)
	return d/2 + time.Duration(u*float64(d/2))
}

// errSkip aborts a store update without writing.
var errSkip = errors.New("skip")

// transition writes one trial's state change through fn (which validates
// against the stored trial and returns errSkip to leave it alone); once it is
// stored, the sweep's counts and cached rows follow, in the order in which
// transitions were stored.
func (c *Coordinator) transition(k trialKey, fn func(*pb.Trial) error) (*pb.Trial, error) {
	var from pb.TrialState
	return c.store.UpdateTrial(k.sweep, k.trial, func(t *pb.Trial) error {
		from = t.State
		return fn(t)
	}, func(t *pb.Trial) { c.counted(k, from, t) })
}

// transitionLater is transition without waiting for durability (see
// store.UpdateTrialLater); done receives the outcome once it is known.
func (c *Coordinator) transitionLater(k trialKey, fn func(*pb.Trial) error, done func(error)) error {
	var from pb.TrialState
	return c.store.UpdateTrialLater(k.sweep, k.trial, func(t *pb.Trial) error {
		from = t.State
		return fn(t)
	}, func(t *pb.Trial, err error) {
		if err == nil {
			c.counted(k, from, t)
		}
		done(err)
	})
}

// counted updates a sweep's counts, its cached result rows and the metrics
// for one transition.
func (c *Coordinator) counted(k trialKey, from pb.TrialState, t *pb.Trial) {
	if from == t.State {
		return
	}
	c.mu.Lock()
	if s := c.sweeps[k.sweep]; s != nil {
		s.counts[from]--
		s.counts[t.State]++
	}
	c.noteRowLocked(k, t)
	c.mu.Unlock()
	c.metrics.transition(from, t.State)
}

// requeueLocked puts a trial that became pending back on its sweep's queue.
func (c *Coordinator) requeueLocked(p *pendingTrial) {
	if s := c.sweeps[p.key.sweep]; s != nil {
		s.push(p)
		c.wakeLocked()
	}
}

// templateKey names the trials whose specs share a template: one base spec
// and one value each of N, momentum and weight decay.
type templateKey struct {
	base            string
	n, momentum, wd float64
}

// pending returns the queue entry of a stored trial that is pending, with
// features feat. A trial stored as base and axes (schema v2) gets the
// template of its spec, shared with every trial of its base and its N,
// momentum and weight decay: its lease's spec is then spliced together
// without a store read or a JSON encoding of the whole spec.
func (c *Coordinator) pending(t *pb.Trial, feat [2]float64) *pendingTrial {
	p := &pendingTrial{key: trialKey{t.SweepId, t.Id}, feat: feat, attempt: t.Attempt}
	if t.BaseId == "" || len(t.Axes) != wire.NumAxes {
		return p
	}
	key := templateKey{t.BaseId, t.Axes[3], t.Axes[4], t.Axes[5]}
	c.tmplMu.Lock()
	tmpl, ok := c.templates[key]
	if !ok {
		tmpl = c.newTemplate(t)
		c.templates[key] = tmpl
	}
	c.tmplMu.Unlock()
	p.tmpl, p.axes = tmpl, [3]float64{t.Axes[0], t.Axes[1], t.Axes[2]}
	return p
}

// newTemplate returns the spec template of a trial (checked on the trial's
// own spec by NewSpecTemplate), or nil when there is none.
func (c *Coordinator) newTemplate(t *pb.Trial) *sweeps.SpecTemplate {
	spec, err := c.store.Spec(t)
	if err != nil {
		return nil
	}
	tmpl, _ := sweeps.NewSpecTemplate(spec)
	return tmpl
}

// Rescue returns expired leases to pending (or discards the trial when it has
// used its attempts) and makes failed trials whose retry time has come
// pending again. The rescuer calls it every RescueInterval.
func (c *Coordinator) Rescue() {
	now := c.cfg.Clock.Now()
	type item struct {
		k trialKey
		l *lease
	}
	var expired []item
	var due []trialKey
	c.mu.Lock()
	for k, l := range c.leases {
		if !now.Before(l.expiry) {
			expired = append(expired, item{k, l})
			delete(c.leases, k)
			if s := c.sweeps[k.sweep]; s != nil {
				s.running--
			}
		}
	}
	for k, at := range c.retries {
		if !now.Before(at) {
			due = append(due, k)
			delete(c.retries, k)
		}
	}
	c.mu.Unlock()

	for _, it := range expired {
		k, token := it.k, it.l.token
		t, err := c.transition(k, func(t *pb.Trial) error {
			if t.State != pb.TrialState_TRIAL_STATE_RUNNING || t.LeaseToken != token {
				return errSkip
			}
			t.LastError = "lease expired (worker " + t.WorkerId + " stopped heartbeating)"
			t.LeaseToken, t.LeaseExpireTime = "", nil
			t.UpdateTime = timestamppb.New(now)
			if t.Attempt >= int32(c.cfg.MaxAttempts) {
				t.State = pb.TrialState_TRIAL_STATE_DISCARDED
			} else {
				t.State = pb.TrialState_TRIAL_STATE_PENDING
			}
			return nil
		})
		if err != nil {
			if !errors.Is(err, errSkip) {
				c.log.Error("rescue expired lease", "sweep", k.sweep, "trial", k.trial, "err", err)
			}
			continue
		}
		c.log.Warn("lease expired", "sweep", k.sweep, "trial", k.trial, "worker", it.l.worker,
			"attempt", t.Attempt, "state", store.StateName(t.State))
		if t.State == pb.TrialState_TRIAL_STATE_PENDING {
			p := c.pending(t, it.l.feat)
			c.mu.Lock()
			c.requeueLocked(p)
			c.mu.Unlock()
		}
	}
	for _, k := range due {
		t, err := c.transition(k, func(t *pb.Trial) error {
			if t.State != pb.TrialState_TRIAL_STATE_FAILED {
				return errSkip
			}
			t.State = pb.TrialState_TRIAL_STATE_PENDING
			t.RetryTime = nil
			t.UpdateTime = timestamppb.New(now)
			return nil
		})
		if err != nil {
			if !errors.Is(err, errSkip) {
				c.log.Error("retry failed trial", "sweep", k.sweep, "trial", k.trial, "err", err)
			}
			continue
		}
		feat, _ := c.features(t)
		p := c.pending(t, feat)
		c.mu.Lock()
		c.requeueLocked(p)
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.metrics.setLeases(len(c.leases))
	c.sweepWorkersLocked(now)
	c.mu.Unlock()
}

// sweepWorkersLocked updates the worker gauge — workers heard from within
// three lease TTLs — and forgets workers silent for ten TTLs (one that comes
// back is told to register again).
func (c *Coordinator) sweepWorkersLocked(now time.Time) {
	live := 0
	for id, w := range c.workers {
		switch age := now.Sub(w.lastSeen); {
		case age <= 3*c.cfg.LeaseTTL:
			live++
		case age > 10*c.cfg.LeaseTTL:
			delete(c.workers, id)
		}
	}
	c.metrics.setWorkers(live)
}
