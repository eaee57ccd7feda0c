package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// MaxAcquireWait caps how long Acquire waits for a pending trial.
const MaxAcquireWait = 30 * time.Second

// Limits of a worker's registration.
const (
	maxWorkerName   = 256
	maxWorkerLabels = 64
	maxWorkerSlots  = 4096
)

// errSimulated refuses a simulated worker or result on a coordinator that
// does not accept them.
var errSimulated = fmt.Errorf("%w: this coordinator does not accept simulated trials (a worker started with --simulate); "+
	"benchmark with a coordinator of its own, started with --accept-simulated on a database of its own", ErrInvalid)

// Register registers a worker with the given number of slots and returns its
// ID. The worker ID is bound to owner, the identity its credentials
// authenticate ("" without authentication): calls naming the ID under
// another identity fail (CheckOwner). It fails with ErrInvalid for fewer
// than one slot (or more than 4096), a name longer than 256 bytes or more
// than 64 labels, and for a worker labelled wire.SimulatedLabel unless
// Config.AcceptSimulated.
func (c *Core) Register(name string, slots int32, labels map[string]string, owner string) (string, error) {
	return c.RegisterWith(name, slots, labels, Capabilities{}, owner)
}

// Capabilities are what a worker offers besides its slots: it is leased
// only the trials it can run.
type Capabilities struct {
	// GPUs is the number of GPUs it has: trials of sweeps whose command needs
	// more (command.gpus) are not leased to it.
	GPUs int32
	// Commands reports that it runs command trials; without it, trials of
	// sweeps with a command are not leased to it.
	Commands bool
}

// RegisterWith is Register for a worker with the given capabilities. It
// fails with ErrInvalid for a negative GPU count or one above
// spec.MaxCommandGPUs.
func (c *Core) RegisterWith(name string, slots int32, labels map[string]string, caps Capabilities, owner string) (string, error) {
	gpus := caps.GPUs
	switch {
	case gpus < 0 || gpus > spec.MaxCommandGPUs:
		return "", fmt.Errorf("%w: gpus: must be from 0 to %d, got %d", ErrInvalid, spec.MaxCommandGPUs, gpus)
	case slots < 1 || slots > maxWorkerSlots:
		return "", fmt.Errorf("%w: slots: must be from 1 to %d, got %d", ErrInvalid, maxWorkerSlots, slots)
	case len(name) > maxWorkerName:
		return "", fmt.Errorf("%w: name: %d bytes, at most %d", ErrInvalid, len(name), maxWorkerName)
	case len(labels) > maxWorkerLabels:
		return "", fmt.Errorf("%w: labels: %d, at most %d", ErrInvalid, len(labels), maxWorkerLabels)
	case labels[wire.SimulatedLabel] != "" && !c.cfg.AcceptSimulated:
		return "", errSimulated
	}
	id := "w-" + newToken()[:12]
	c.mu.Lock()
	c.workers[id] = &workerInfo{
		pb:       &pb.Worker{Id: id, Name: name, Slots: slots, Labels: labels, Gpus: gpus, Commands: caps.Commands},
		lastSeen: c.cfg.Clock.Now(),
		owner:    owner,
	}
	c.sweepWorkersLocked(c.cfg.Clock.Now())
	c.mu.Unlock()
	c.log.Info("worker registered", "worker", id, "name", name, "slots", slots, "gpus", gpus, "commands", caps.Commands)
	return id, nil
}

// CheckOwner fails with ErrForbidden when a registered worker ID is bound
// to another identity than owner (see Register). An ID the core does not
// know (it restarted) passes: its calls are checked against the leases it
// holds.
func (c *Core) CheckOwner(workerID, owner string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.workers[workerID]; ok && w.owner != owner {
		return fmt.Errorf("%w: worker %s was registered by other credentials", ErrForbidden, workerID)
	}
	return nil
}

// touchLocked records that a worker was heard from; false if it is unknown.
func (c *Core) touchLocked(id string) bool {
	w, ok := c.workers[id]
	if ok {
		w.lastSeen = c.cfg.Clock.Now()
	}
	return ok
}

// touch is touchLocked under the lock.
func (c *Core) touch(id string) {
	c.mu.Lock()
	c.touchLocked(id)
	c.mu.Unlock()
}

// Acquire leases a trial to a registered worker, waiting up to wait (at most
// MaxAcquireWait) for one to become pending; it returns no lease and no
// error when none did. A lease granted after ctx was cancelled is handed
// back, not returned. It fails with ErrUnknownWorker, ErrStopped, or ctx's
// error. The worker is taken to have one free slot (see AcquireSlots).
func (c *Core) Acquire(ctx context.Context, workerID string, wait time.Duration) (*pb.Lease, error) {
	return c.AcquireSlots(ctx, workerID, wait, 0)
}

// AcquireSlots is Acquire for a worker with free slots free: only trials
// occupying at most that many (command.slots) are leased to it; the others
// stay queued for a worker with more. A count below 1 (a worker that does
// not report it) counts as 1. A worker that reports its free slots gets
// nothing while a sweep of higher priority waits for more of them to be
// free (see pickSweepLocked).
func (c *Core) AcquireSlots(ctx context.Context, workerID string, wait time.Duration, free int32) (*pb.Lease, error) {
	timer := time.NewTimer(max(min(wait, MaxAcquireWait), 0))
	defer timer.Stop()
	for {
		l, wake, err := c.TryAcquireSlots(workerID, free)
		if err != nil {
			return nil, err
		}
		if l != nil {
			if ctx.Err() != nil {
				// The caller gave up meanwhile: hand the lease back rather
				// than let it expire unseen.
				c.HandBack(l)
				return nil, ctx.Err()
			}
			return l, nil
		}
		select {
		case <-wake:
		case <-timer.C:
			return nil, nil
		case <-c.stop:
			return nil, ErrStopped
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TryAcquire leases a trial to a registered worker if one is leasable now;
// otherwise it returns no lease and a channel that is closed when trials
// become pending.
//
// The lease is granted from memory and written behind: the reply does not
// wait for the fsync. Losing that write in a crash is harmless — the trial is
// pending again after the restart, and the worker's token is refused at its
// next heartbeat or report — so no result is lost or counted twice. Results
// (Complete) are durable before they are acknowledged, and the store applies
// writes in order, so a result never overtakes its lease. The worker is
// taken to have one free slot (see TryAcquireSlots).
func (c *Core) TryAcquire(workerID string) (*pb.Lease, <-chan struct{}, error) {
	return c.TryAcquireSlots(workerID, 0)
}

// TryAcquireSlots is TryAcquire for a worker with free slots free (see
// AcquireSlots).
func (c *Core) TryAcquireSlots(workerID string, free int32) (*pb.Lease, <-chan struct{}, error) {
	start := time.Now()
	c.mu.Lock()
	if !c.touchLocked(workerID) {
		c.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: worker %q (coordinator restarted?): register again", ErrUnknownWorker, workerID)
	}
	wake := c.wake
	c.mu.Unlock()
	l, err := c.acquire(workerID, free)
	if err != nil {
		return nil, nil, fmt.Errorf("acquire: %w", err)
	}
	if l != nil {
		c.metrics.acquire.Observe(time.Since(start).Seconds())
	}
	return l, wake, nil
}

// acquire leases the next trial chosen by the scheduler for a worker with
// free slots free (0: not reported, see AcquireSlots), or returns nil when
// none is leasable.
func (c *Core) acquire(workerID string, free int32) (*pb.Lease, error) {
	for {
		c.mu.Lock()
		var caps Capabilities
		total := int32(1)
		if w := c.workers[workerID]; w != nil {
			caps = Capabilities{GPUs: w.pb.Gpus, Commands: w.pb.Commands}
			total = w.pb.Slots
		}
		s := c.pickSweepLocked(caps, max(free, 1), total, free > 0)
		if s == nil {
			c.mu.Unlock()
			return nil, nil
		}
		p := s.pop()
		if c.leases[p.key] != nil {
			// A trial is queued once per transition to pending, so this
			// does not happen; should it, the running lease stands.
			c.mu.Unlock()
			c.log.Error("queued trial is already leased; queue entry dropped", "sweep", p.key.Sweep, "trial", p.key.Trial)
			continue
		}
		s.running++ // reserve the fair-share slot
		c.mu.Unlock()

		specJSON, attempt, err := c.leaseSpec(p)
		if err != nil || specJSON == "" {
			c.mu.Lock()
			s.running--
			if err != nil {
				s.push(p)
			}
			c.mu.Unlock()
			if err != nil {
				return nil, err
			}
			continue // no longer pending (cancelled meanwhile): drop it
		}
		now := c.cfg.Clock.Now()
		l := &lease{token: newToken(), worker: workerID, expiry: now.Add(c.cfg.LeaseTTL), start: now, feat: p.feat}
		c.mu.Lock()
		c.leases[p.key] = l
		c.metrics.setLeases(len(c.leases))
		c.mu.Unlock()
		err = c.transitionLater(p.key, func(t *pb.Trial) error {
			if t.State != pb.TrialState_TRIAL_STATE_PENDING {
				return errSkip
			}
			t.State = pb.TrialState_TRIAL_STATE_RUNNING
			t.Attempt++
			beginAttempt(t, workerID, now)
			t.WorkerId = workerID
			t.LeaseToken = l.token
			t.LeaseExpireTime = timestamppb.New(l.expiry)
			t.Curve = nil
			t.UpdateTime = timestamppb.New(now)
			return nil
		}, func(err error) {
			if err == nil {
				return
			}
			// The lease never reached the store: withdraw it. The worker
			// learns at its first heartbeat.
			c.dropLease(p.key, l.token)
			if errors.Is(err, errSkip) {
				c.log.Info("lease withdrawn: the trial was no longer pending", "sweep", p.key.Sweep, "trial", p.key.Trial)
			} else {
				c.log.Warn("lease write failed; lease withdrawn", "sweep", p.key.Sweep, "trial", p.key.Trial, "err", err)
			}
		})
		if err != nil {
			c.dropLease(p.key, l.token)
			return nil, err
		}
		c.log.Debug("trial leased", "sweep", p.key.Sweep, "trial", p.key.Trial, "worker", workerID, "attempt", attempt+1)
		return &pb.Lease{
			SweepId:    p.key.Sweep,
			TrialId:    p.key.Trial,
			Attempt:    attempt + 1,
			Token:      l.token,
			ExpireTime: timestamppb.New(l.expiry),
			SpecJson:   specJSON,
		}, nil
	}
}

// leaseSpec returns a queued trial's spec JSON and the attempts it has had:
// spliced from its template, or else read from the store, where an empty
// spec means that the trial is gone or no longer pending.
func (c *Core) leaseSpec(p *pendingTrial) (string, int32, error) {
	if p.tmpl != nil {
		c.tmplMu.Lock() // the value tables grow as trials are queued
		js := p.tmpl.spec(p.packed)
		c.tmplMu.Unlock()
		return js, p.attempt, nil
	}
	t, err := c.store.GetTrial(p.key.Sweep, p.key.Trial)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", 0, nil
	case err != nil:
		return "", 0, err
	case t.State != pb.TrialState_TRIAL_STATE_PENDING:
		return "", 0, nil
	}
	return t.SpecJson, t.Attempt, nil
}

// liveLease returns the lease of a trial if, at the time of the call, it is
// the one with token, held by workerID and not expired; otherwise an
// ErrLeaseLost that says which of the three failed. A lease past its expiry
// is refused even before the rescuer has returned it to pending.
func (c *Core) liveLease(workerID string, k Key, token string) (*lease, error) {
	now := c.cfg.Clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.leases[k]
	switch {
	case l == nil || token == "" || l.token != token:
		return nil, c.leaseLostLocked(k)
	case l.worker != workerID:
		return nil, fmt.Errorf("%w: trial %s/%s is not leased to worker %q", ErrLeaseLost, k.Sweep, k.Trial, workerID)
	case !now.Before(l.expiry):
		return nil, fmt.Errorf("%w: the lease of trial %s/%s expired at %s", ErrLeaseLost, k.Sweep, k.Trial, l.expiry.UTC().Format(time.RFC3339Nano))
	}
	return l, nil
}

// dropLease removes a trial's lease from memory if it is still the one with
// token, and reports whether it did.
func (c *Core) dropLease(k Key, token string) (*lease, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.leases[k]
	if l == nil || l.token != token {
		return nil, false
	}
	delete(c.leases, k)
	if s := c.sweeps[k.Sweep]; s != nil {
		s.running--
	}
	c.metrics.setLeases(len(c.leases))
	return l, true
}

// HandBack returns a lease that never reached its worker to pending, without
// counting the attempt (see Release).
func (c *Core) HandBack(l *pb.Lease) {
	k := Key{l.SweepId, l.TrialId}
	c.mu.Lock()
	var worker string
	if cur := c.leases[k]; cur != nil {
		worker = cur.worker
	}
	c.mu.Unlock()
	if err := c.Release(worker, k, l.Token); err != nil {
		c.log.Warn("could not hand back an undelivered lease; it will expire", "sweep", l.SweepId, "trial", l.TrialId, "err", err)
		return
	}
	c.log.Info("undelivered lease handed back", "sweep", l.SweepId, "trial", l.TrialId)
}

// Release returns a leased trial to pending without counting the attempt: a
// worker handing back what it holds (a draining worker), or a lease that
// never reached its worker (HandBack). It fails with ErrLeaseLost unless
// token is the trial's live lease held by workerID.
func (c *Core) Release(workerID string, k Key, token string) error {
	l, err := c.liveLease(workerID, k, token)
	if err != nil {
		return err
	}
	now := c.cfg.Clock.Now()
	t, err := c.transition(k, func(t *pb.Trial) error {
		if t.State != pb.TrialState_TRIAL_STATE_RUNNING || t.LeaseToken != token || t.WorkerId != workerID {
			return errSkip
		}
		endAttempt(t, "handed back", "", now)
		t.State = pb.TrialState_TRIAL_STATE_PENDING
		t.Attempt--
		t.LeaseToken, t.LeaseExpireTime, t.Curve = "", nil, nil
		t.UpdateTime = timestamppb.New(now)
		return nil
	})
	c.dropLease(k, token)
	if errors.Is(err, errSkip) {
		return c.leaseLost(k)
	}
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	p := c.pending(t, l.feat)
	c.mu.Lock()
	c.requeueLocked(p)
	c.mu.Unlock()
	return nil
}

// sweepWorkersLocked updates the worker gauge — workers heard from within
// three lease TTLs — and forgets workers silent for ten TTLs (one that comes
// back is told to register again).
func (c *Core) sweepWorkersLocked(now time.Time) {
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
