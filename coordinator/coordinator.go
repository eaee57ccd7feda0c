// Package coordinator serves flatsweep's two gRPC services — SweepService for
// users and WorkerService for workers — over the durable store. It owns the
// lease table: a trial is leased to one worker at a time under a random token
// with an expiry; heartbeats renew it; a rescuer returns expired leases to
// pending; a result is accepted once and only with the current token.
package coordinator

import (
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
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
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
}

type workerInfo struct {
	pb       *pb.Worker
	lastSeen time.Time
}

// Coordinator holds the lease table and the pending queue over a store.
type Coordinator struct {
	cfg   Config
	store *store.Store
	log   *slog.Logger

	mu      sync.Mutex
	queue   []trialKey             // pending trials, in submission order
	retries map[trialKey]time.Time // failed trials and when they become pending
	leases  map[trialKey]*lease
	workers map[string]*workerInfo
	wake    chan struct{} // closed and replaced whenever the queue grows
	jitter  *mrand.Rand

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// New builds a coordinator over an open store, rebuilding the pending queue,
// retry schedule and lease table from it. Leases found running get a fresh TTL
// so that their workers can reconnect and keep them.
func New(st *store.Store, cfg Config) (*Coordinator, error) {
	cfg.setDefaults()
	var seed [16]byte
	_, _ = rand.Read(seed[:])
	c := &Coordinator{
		cfg:     cfg,
		store:   st,
		log:     cfg.Logger,
		retries: map[trialKey]time.Time{},
		leases:  map[trialKey]*lease{},
		workers: map[string]*workerInfo{},
		wake:    make(chan struct{}),
		jitter:  mrand.New(mrand.NewPCG(leUint64(seed[:8]), leUint64(seed[8:]))),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	now := cfg.Clock.Now()
	err := st.AllTrials(func(t *pb.Trial) {
		k := trialKey{t.SweepId, t.Id}
		switch t.State {
		case pb.TrialState_TRIAL_STATE_PENDING:
			c.queue = append(c.queue, k)
		case pb.TrialState_TRIAL_STATE_FAILED:
			c.retries[k] = t.RetryTime.AsTime()
		case pb.TrialState_TRIAL_STATE_RUNNING:
			exp := t.LeaseExpireTime.AsTime()
			if min := now.Add(cfg.LeaseTTL); exp.Before(min) {
				exp = min
			}
			c.leases[k] = &lease{token: t.LeaseToken, worker: t.WorkerId, expiry: exp}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("load trials: %w", err)
	}
	c.log.Info("coordinator state loaded", "db", st.Path(), "pending", len(c.queue),
		"running", len(c.leases), "retrying", len(c.retries))
	return c, nil
}

func leUint64(b []byte) uint64 {
	var x uint64
	for i := 7; i >= 0; i-- {
		x = x<<8 | uint64(b[i])
	}
	return x
}

// Register adds the SweepService and WorkerService to a gRPC server.
func (c *Coordinator) Register(s grpc.ServiceRegistrar) {
	pb.RegisterSweepServiceServer(s, &sweepServer{c: c})
	pb.RegisterWorkerServiceServer(s, &workerServer{c: c})
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

// enqueueLocked appends pending trials and wakes waiting acquirers.
func (c *Coordinator) enqueueLocked(keys ...trialKey) {
	if len(keys) == 0 {
		return
	}
	c.queue = append(c.queue, keys...)
	close(c.wake)
	c.wake = make(chan struct{})
}

// backoff returns the jittered retry delay after the given attempt.
func (c *Coordinator) backoff(attempt int32) time.Duration {
	d := c.cfg.BackoffBase
	for i := int32(1); i < attempt && d < c.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.BackoffMax)
	return d/2 + time.Duration(c.jitter.Int64N(int64(d/2)+1))
}

// errSkip aborts a store update without writing.
var errSkip = errors.New("skip")

// Rescue returns expired leases to pending (or discards the trial when it has
// used its attempts) and makes failed trials whose retry time has come
// pending again. The rescuer calls it every RescueInterval.
func (c *Coordinator) Rescue() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Clock.Now()
	for k, l := range c.leases {
		if now.Before(l.expiry) {
			continue
		}
		token := l.token
		t, err := c.store.UpdateTrial(k.sweep, k.trial, func(t *pb.Trial) error {
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
		delete(c.leases, k)
		if err != nil {
			if !errors.Is(err, errSkip) {
				c.log.Error("rescue expired lease", "sweep", k.sweep, "trial", k.trial, "err", err)
			}
			continue
		}
		c.log.Warn("lease expired", "sweep", k.sweep, "trial", k.trial, "worker", l.worker,
			"attempt", t.Attempt, "state", store.StateName(t.State))
		if t.State == pb.TrialState_TRIAL_STATE_PENDING {
			c.enqueueLocked(k)
		}
	}
	for k, at := range c.retries {
		if now.Before(at) {
			continue
		}
		_, err := c.store.UpdateTrial(k.sweep, k.trial, func(t *pb.Trial) error {
			if t.State != pb.TrialState_TRIAL_STATE_FAILED {
				return errSkip
			}
			t.State = pb.TrialState_TRIAL_STATE_PENDING
			t.RetryTime = nil
			t.UpdateTime = timestamppb.New(now)
			return nil
		})
		delete(c.retries, k)
		if err == nil {
			c.enqueueLocked(k)
		} else if !errors.Is(err, errSkip) {
			c.log.Error("retry failed trial", "sweep", k.sweep, "trial", k.trial, "err", err)
		}
	}
}
