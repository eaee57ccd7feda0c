package lease

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

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// Clock tells the time. Tests inject a fake one so lease logic never sleeps.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Observer hears about every change to the stored trials, for views kept
// beside the core (the coordinator's result rows).
type Observer interface {
	// Transitioned is called once a change of one trial's state is stored,
	// in the order the changes were stored.
	Transitioned(k Key, from pb.TrialState, t *pb.Trial)
	// Changed is called after many trials of a sweep changed at once
	// (a submission, a cancellation).
	Changed(sweep string)
}

// Config holds the core's lease and retry policy.
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
	// Observer, if not nil, hears about every change to the stored trials.
	Observer Observer
	// Limits bound what workers may report (defaults in Limits).
	Limits Limits
	// Revoked, if not nil, is told of the leases the core ended before
	// their trials finished (a sweep's cancellation), by worker, so that the
	// workers can be told at once rather than at their next heartbeat. It
	// is called without the core's locks held and must not block.
	Revoked func(worker string, leases []*pb.RevokedLease)
	// AcceptSimulated lets workers that simulate trials (label
	// wire.SimulatedLabel) register and their results (marked
	// pb.TrialResult.simulated) be stored: for benchmark databases only.
	// Without it both are refused with ErrInvalid, so that no simulated
	// result enters a research database.
	AcceptSimulated bool
	// IDOrder leases each sweep's pending trials in trial-ID order instead
	// of longest-predicted-first: since a trial's ID is a hash of its spec,
	// an order unrelated to the trials' costs, the baseline against which
	// benchmarks measure the gain of the cost order. Priorities and fair
	// sharing between sweeps are unchanged.
	IDOrder bool
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
	c.Limits.setDefaults()
}

// Key identifies a trial across sweeps.
type Key struct{ Sweep, Trial string }

// lease is the in-memory view of a running trial's lease; the store holds the
// same token and expiry so that a restarted core rebuilds it.
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
	owner    string // the identity that registered it
}

// Core holds the lease table and the per-sweep queues over a store.
//
// Concurrency: mu guards the in-memory state only; store writes happen
// outside it, so that concurrent transitions are group-committed by the
// store. The store is the arbiter of every transition (each write re-checks
// the trial's stored state and token); the in-memory state is updated from
// the outcome of the write.
type Core struct {
	cfg   Config
	store *store.Store
	log   *slog.Logger

	submitMu sync.Mutex // serializes Submit's store write and queue update

	mu      sync.Mutex
	sweeps  map[string]*sweepState
	retries map[Key]time.Time // failed trials and when they become pending
	leases  map[Key]*lease
	workers map[string]*workerInfo
	wake    chan struct{} // closed and replaced whenever trials become pending
	jitter  *mrand.Rand
	metrics *metrics

	tmplMu    sync.Mutex
	templates map[templateKey]*leaseTemplate // nil values: no template
	bases     map[string]*baseValues         // by base ID

	metricsOnce sync.Once
	stopOnce    sync.Once
	stop        chan struct{}
	done        chan struct{}
}

// New builds a core over an open store, rebuilding the queues, retry
// schedule and lease table from it. Leases found running get a fresh TTL so
// that their workers can reconnect and keep them.
func New(st *store.Store, cfg Config) (*Core, error) {
	cfg.setDefaults()
	var seed [16]byte
	_, _ = rand.Read(seed[:])
	c := &Core{
		cfg:       cfg,
		store:     st,
		log:       cfg.Logger,
		sweeps:    map[string]*sweepState{},
		retries:   map[Key]time.Time{},
		leases:    map[Key]*lease{},
		workers:   map[string]*workerInfo{},
		templates: map[templateKey]*leaseTemplate{},
		bases:     map[string]*baseValues{},
		wake:      make(chan struct{}),
		jitter:    mrand.New(mrand.NewPCG(leUint64(seed[:8]), leUint64(seed[8:]))),
		metrics:   newMetrics(),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	sws, err := st.ListSweeps()
	if err != nil {
		return nil, fmt.Errorf("load sweeps: %w", err)
	}
	for _, sw := range sws {
		s := newSweepState(sw.Id, cfg.IDOrder)
		s.priority, s.paused, s.cancelled = sw.Priority, sw.Paused, sw.Cancelled
		s.needs = needsOf(sw)
		c.sweeps[sw.Id] = s
	}
	now := cfg.Clock.Now()
	var decodeErr error
	err = st.AllTrials(func(t *pb.Trial) {
		s := c.sweeps[t.SweepId]
		if s == nil {
			return
		}
		k := Key{t.SweepId, t.Id}
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
	if bad := st.BadRecords(); len(bad) > 0 {
		c.log.Error("stored records cannot be read and are left out; run flatsweep db check (and db salvage) on a copy of the database",
			"records", len(bad), "first", bad[0].Bucket+"/"+bad[0].Key)
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

// Config returns the core's configuration, defaults applied.
func (c *Core) Config() Config { return c.cfg }

// Store returns the store, for read-only queries (results, backups).
func (c *Core) Store() *store.Store { return c.store }

// features returns a stored trial's cost features (a default when its spec
// cannot be read).
func (c *Core) features(t *pb.Trial) ([2]float64, error) {
	st, err := c.store.Spec(t)
	if err != nil {
		return [2]float64{1, 1}, err
	}
	return costFeatures(st, 0), nil
}

func leUint64(b []byte) uint64 {
	var x uint64
	for i := 7; i >= 0; i-- {
		x = x<<8 | uint64(b[i])
	}
	return x
}

// Start runs the rescuer until Stop is called or ctx ends.
func (c *Core) Start(ctx context.Context) {
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

// Stop stops the rescuer (started by Start) and waits for it; calls waiting
// for work return ErrStopped.
func (c *Core) Stop() {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
}

// Stopped returns a channel that is closed when Stop is called.
func (c *Core) Stopped() <-chan struct{} { return c.stop }

// newToken returns a random lease token.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// wakeLocked wakes acquirers waiting for pending trials.
func (c *Core) wakeLocked() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// backoff returns the retry delay after the given attempt, jittered by
// u ∈ [0, 1]: d/2 + u·d/2 with d = min(BackoffBase·2^(attempt−1), BackoffMax).
func (c *Core) backoff(attempt int32, u float64) time.Duration {
	d := c.cfg.BackoffBase
	for i := int32(1); i < attempt && d < c.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.BackoffMax)
	return d/2 + time.Duration(u*float64(d/2))
}

// transition writes one trial's state change through fn (which validates
// against the stored trial and returns errSkip to leave it alone); once it is
// stored, the sweep's counts and the observer follow, in the order in which
// transitions were stored.
func (c *Core) transition(k Key, fn func(*pb.Trial) error) (*pb.Trial, error) {
	var from pb.TrialState
	return c.store.UpdateTrial(k.Sweep, k.Trial, func(t *pb.Trial) error {
		from = t.State
		return fn(t)
	}, func(t *pb.Trial) { c.counted(k, from, t) })
}

// transitionLog is transition that also stores an attempt's log (nil: none)
// in the same transaction.
func (c *Core) transitionLog(k Key, log *pb.CommandLog, fn func(*pb.Trial) error) (*pb.Trial, error) {
	if log == nil {
		return c.transition(k, fn)
	}
	var from pb.TrialState
	return c.store.UpdateTrialWithLog(k.Sweep, k.Trial, func(t *pb.Trial) error {
		from = t.State
		if err := fn(t); err != nil {
			return err
		}
		// The log is the attempt's that the transition ends, run by the
		// worker that held its lease (whatever the report says).
		log.Attempt, log.WorkerId = t.Attempt, t.WorkerId
		return nil
	}, log, func(t *pb.Trial) { c.counted(k, from, t) })
}

// transitionLater is transition without waiting for durability (see
// store.UpdateTrialLater); done receives the outcome once it is known.
func (c *Core) transitionLater(k Key, fn func(*pb.Trial) error, done func(error)) error {
	var from pb.TrialState
	return c.store.UpdateTrialLater(k.Sweep, k.Trial, func(t *pb.Trial) error {
		from = t.State
		return fn(t)
	}, func(t *pb.Trial, err error) {
		if err == nil {
			c.counted(k, from, t)
		}
		done(err)
	})
}

// counted updates a sweep's counts, the observer and the metrics for one
// stored transition.
func (c *Core) counted(k Key, from pb.TrialState, t *pb.Trial) {
	if from == t.State {
		return // a heartbeat: nothing an observer shows changed
	}
	if obs := c.cfg.Observer; obs != nil {
		obs.Transitioned(k, from, t)
	}
	c.mu.Lock()
	if s := c.sweeps[k.Sweep]; s != nil {
		s.counts[from]--
		s.counts[t.State]++
	}
	c.mu.Unlock()
	c.metrics.transition(from, t.State)
}

// changed tells the observer that many trials of a sweep changed.
func (c *Core) changed(sweep string) {
	if obs := c.cfg.Observer; obs != nil {
		obs.Changed(sweep)
	}
}

// requeueLocked puts a trial that became pending back on its sweep's queue.
func (c *Core) requeueLocked(p *pendingTrial) {
	if s := c.sweeps[p.key.Sweep]; s != nil {
		s.push(p)
		c.wakeLocked()
	}
}

// templateKey names the trials whose specs share a template: one base and
// one pattern of axis values left out of the JSON (see
// sweeps.Expander.OmittedMask).
type templateKey struct {
	base    string
	omitted uint64
}

// leaseTemplate is the template of the lease specs of the trials of one
// templateKey.
type leaseTemplate struct {
	tmpl    *spec.Template
	base    *baseValues
	omitted uint64
}

// baseValues interns the axis values of one base's trials, so that a queue
// entry holds its trial's values as indexes packed into one word instead of
// strings (bits bits per axis).
type baseValues struct {
	omits []bool              // whether each axis's field is left out of the JSON at 0
	index []map[string]uint32 // per axis, value → index into table
	table [][]string          // per axis, the values by index
	bits  uint
}

// pack returns the packed indexes of a trial's axis values, interning new
// values; false when an index does not fit. The caller holds tmplMu.
func (b *baseValues) pack(values []string) (uint64, bool) {
	var packed uint64
	for k, v := range values {
		i, ok := b.index[k][v]
		if !ok {
			i = uint32(len(b.table[k]))
			b.index[k][v] = i
			b.table[k] = append(b.table[k], v)
		}
		if uint64(i) >= 1<<b.bits {
			return 0, false
		}
		packed |= uint64(i) << (uint(k) * b.bits)
	}
	return packed, true
}

// pending returns the queue entry of a stored trial that is pending, with
// features feat. A trial stored as base and axis values gets the template
// of its spec, shared with every trial of its base and pattern of omitted
// values, and its values packed as indexes into its base's table: its
// lease's spec is then spliced together without a store read or a JSON
// encoding of the whole spec.
func (c *Core) pending(t *pb.Trial, feat [2]float64) *pendingTrial {
	p := &pendingTrial{key: Key{t.SweepId, t.Id}, feat: feat, attempt: t.Attempt}
	if t.BaseId == "" {
		return p
	}
	base, err := c.store.Base(t.BaseId)
	if err != nil || len(base.Axes) != len(t.AxisValues) || len(base.Axes) == 0 {
		return p
	}
	c.tmplMu.Lock()
	defer c.tmplMu.Unlock()
	bv := c.baseValues(t.BaseId, base)
	key := templateKey{base: t.BaseId}
	for k, v := range t.AxisValues {
		if bv.omits[k] && v == "0" {
			key.omitted |= 1 << k
		}
	}
	packed, ok := bv.pack(t.AxisValues)
	if !ok {
		return p
	}
	lt, ok := c.templates[key]
	if !ok {
		if tmpl := newTemplate(base, t.AxisValues, key.omitted); tmpl != nil {
			lt = &leaseTemplate{tmpl: tmpl, base: bv, omitted: key.omitted}
		}
		c.templates[key] = lt
	}
	if lt != nil {
		p.tmpl, p.packed = lt, packed
	}
	return p
}

// baseValues returns the value table of a base, made on first use. The
// caller holds tmplMu.
func (c *Core) baseValues(id string, base store.Base) *baseValues {
	if b, ok := c.bases[id]; ok {
		return b
	}
	n := len(base.Axes)
	b := &baseValues{omits: make([]bool, n), index: make([]map[string]uint32, n), table: make([][]string, n), bits: uint(64 / n)}
	for k, path := range base.Axes {
		b.omits[k] = spec.OmitsZero(path)
		b.index[k] = map[string]uint32{}
	}
	c.bases[id] = b
	return b
}

// spec splices the lease spec of a queued trial from its template.
func (lt *leaseTemplate) spec(packed uint64) string {
	var buf [8]string
	vals := buf[:0]
	b := lt.base
	mask := uint64(1)<<b.bits - 1
	for k := range b.table {
		if lt.omitted&(1<<k) == 0 {
			i := packed >> (uint(k) * b.bits) & mask
			vals = append(vals, b.table[k][i])
		}
	}
	return string(lt.tmpl.Append(nil, vals))
}

// newTemplate returns the template of the lease spec (spec.Canonical) of
// the trials of base whose omitted values are those of mask, checked on the
// trial with the given values, or nil when there is none.
func newTemplate(base store.Base, values []string, mask uint64) *spec.Template {
	st, err := base.Trial(values)
	if err != nil {
		return nil
	}
	var paths []string
	for k, p := range base.Axes {
		if mask&(1<<k) == 0 {
			paths = append(paths, p)
		}
	}
	tmpl, err := spec.NewTemplate(spec.Canonical, st, paths)
	if err != nil {
		return nil
	}
	return tmpl
}

// Rescue returns expired leases to pending (or discards the trial when it has
// used its attempts) and makes failed trials whose retry time has come
// pending again. The rescuer calls it every RescueInterval.
func (c *Core) Rescue() {
	now := c.cfg.Clock.Now()
	type item struct {
		k Key
		l *lease
	}
	var expired []item
	var due []Key
	c.mu.Lock()
	for k, l := range c.leases {
		if !now.Before(l.expiry) {
			expired = append(expired, item{k, l})
			delete(c.leases, k)
			if s := c.sweeps[k.Sweep]; s != nil {
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
			endAttempt(t, "lease expired", t.LastError, now)
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
				c.log.Error("rescue expired lease", "sweep", k.Sweep, "trial", k.Trial, "err", err)
			}
			continue
		}
		c.log.Warn("lease expired", "sweep", k.Sweep, "trial", k.Trial, "worker", it.l.worker,
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
				c.log.Error("retry failed trial", "sweep", k.Sweep, "trial", k.Trial, "err", err)
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
