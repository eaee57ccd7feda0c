package coordinator

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// MaxAcquireWait caps how long AcquireTrial holds a call open.
const MaxAcquireWait = 30 * time.Second

// workerServer implements pb.WorkerServiceServer.
type workerServer struct {
	pb.UnimplementedWorkerServiceServer
	c *Coordinator
}

// errLeaseLost is the status returned for a heartbeat or report whose token is
// not the trial's current lease.
func errLeaseLost(sweep, trial string) error {
	return status.Errorf(codes.FailedPrecondition,
		"lease lost: trial %s/%s is no longer leased under this token", sweep, trial)
}

func (s *workerServer) RegisterWorker(_ context.Context, req *pb.RegisterWorkerRequest) (*pb.RegisterWorkerResponse, error) {
	if req.Slots < 1 {
		return nil, status.Errorf(codes.InvalidArgument, "slots: must be at least 1, got %d", req.Slots)
	}
	c := s.c
	id := "w-" + newToken()[:12]
	c.mu.Lock()
	c.workers[id] = &workerInfo{
		pb:       &pb.Worker{Id: id, Name: req.Name, Slots: req.Slots, Labels: req.Labels},
		lastSeen: c.cfg.Clock.Now(),
	}
	c.sweepWorkersLocked(c.cfg.Clock.Now())
	c.mu.Unlock()
	c.log.Info("worker registered", "worker", id, "name", req.Name, "slots", req.Slots)
	return &pb.RegisterWorkerResponse{
		WorkerId:          id,
		LeaseTtl:          durationpb.New(c.cfg.LeaseTTL),
		HeartbeatInterval: durationpb.New(c.cfg.HeartbeatInterval),
	}, nil
}

// touchLocked records that a worker was heard from; false if it is unknown.
func (c *Coordinator) touchLocked(id string) bool {
	w, ok := c.workers[id]
	if ok {
		w.lastSeen = c.cfg.Clock.Now()
	}
	return ok
}

func (s *workerServer) AcquireTrial(ctx context.Context, req *pb.AcquireTrialRequest) (*pb.AcquireTrialResponse, error) {
	c := s.c
	wait := min(req.GetWait().AsDuration(), MaxAcquireWait)
	timer := time.NewTimer(max(wait, 0))
	defer timer.Stop()
	for {
		l, wake, err := c.tryAcquire(req.WorkerId)
		if err != nil {
			return nil, err
		}
		if l != nil {
			if ctx.Err() != nil {
				// The caller gave up meanwhile: hand the lease back rather
				// than let it expire unseen.
				c.handBack(l)
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return &pb.AcquireTrialResponse{Lease: l}, nil
		}
		select {
		case <-wake:
		case <-timer.C:
			return &pb.AcquireTrialResponse{}, nil
		case <-c.stop:
			return nil, status.Error(codes.Unavailable, "coordinator is shutting down")
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
}

// tryAcquire leases a trial to a registered worker if one is leasable now;
// otherwise it returns no lease and a channel that is closed when trials
// become pending.
func (c *Coordinator) tryAcquire(workerID string) (*pb.Lease, <-chan struct{}, error) {
	start := time.Now()
	c.mu.Lock()
	if !c.touchLocked(workerID) {
		c.mu.Unlock()
		return nil, nil, status.Errorf(codes.NotFound, "worker %q is not registered (coordinator restarted?): register again", workerID)
	}
	wake := c.wake
	c.mu.Unlock()
	l, err := c.acquire(workerID)
	if err != nil {
		return nil, nil, status.Errorf(codes.Internal, "acquire: %v", err)
	}
	if l != nil {
		c.metrics.acquire.Observe(time.Since(start).Seconds())
	}
	return l, wake, nil
}

// acquire leases the next trial chosen by the scheduler, or returns nil when
// none is leasable.
//
// The lease is granted from memory and written behind: the reply does not
// wait for the fsync. Losing that write in a crash is harmless — the trial is
// pending again after the restart, and the worker's token is refused at its
// next heartbeat or report — so no result is lost or counted twice. Results
// (CompleteTrial) are durable before they are acknowledged, and the store
// applies writes in order, so a result never overtakes its lease.
func (c *Coordinator) acquire(workerID string) (*pb.Lease, error) {
	for {
		c.mu.Lock()
		s := c.pickSweepLocked()
		if s == nil {
			c.mu.Unlock()
			return nil, nil
		}
		p := s.pop()
		if c.leases[p.key] != nil {
			// A trial is queued once per transition to pending, so this
			// does not happen; should it, the running lease stands.
			c.mu.Unlock()
			c.log.Error("queued trial is already leased; queue entry dropped", "sweep", p.key.sweep, "trial", p.key.trial)
			continue
		}
		s.running++ // reserve the fair-share slot
		c.mu.Unlock()

		spec, attempt, err := c.leaseSpec(p)
		if err != nil || spec == "" {
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
				c.log.Info("lease withdrawn: the trial was no longer pending", "sweep", p.key.sweep, "trial", p.key.trial)
			} else {
				c.log.Warn("lease write failed; lease withdrawn", "sweep", p.key.sweep, "trial", p.key.trial, "err", err)
			}
		})
		if err != nil {
			c.dropLease(p.key, l.token)
			return nil, err
		}
		c.log.Debug("trial leased", "sweep", p.key.sweep, "trial", p.key.trial, "worker", workerID, "attempt", attempt+1)
		return &pb.Lease{
			SweepId:    p.key.sweep,
			TrialId:    p.key.trial,
			Attempt:    attempt + 1,
			Token:      l.token,
			ExpireTime: timestamppb.New(l.expiry),
			SpecJson:   spec,
		}, nil
	}
}

// leaseSpec returns a queued trial's spec JSON and the attempts it has had:
// spliced from its template, or else read from the store, where an empty
// spec means that the trial is gone or no longer pending.
func (c *Coordinator) leaseSpec(p *pendingTrial) (string, int32, error) {
	if p.tmpl != nil {
		return string(p.tmpl.Append(nil, int(p.axes[0]), p.axes[1], int64(p.axes[2]))), p.attempt, nil
	}
	t, err := c.store.GetTrial(p.key.sweep, p.key.trial)
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

// currentLease returns the live lease of a trial if token matches it.
func (c *Coordinator) currentLease(k trialKey, token string) *lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.leases[k]
	if l == nil || l.token != token || token == "" {
		return nil
	}
	return l
}

// dropLease removes a trial's lease from memory if it is still the one with
// token, and reports whether it did.
func (c *Coordinator) dropLease(k trialKey, token string) (*lease, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.leases[k]
	if l == nil || l.token != token {
		return nil, false
	}
	delete(c.leases, k)
	if s := c.sweeps[k.sweep]; s != nil {
		s.running--
	}
	c.metrics.setLeases(len(c.leases))
	return l, true
}

func (s *workerServer) Heartbeat(_ context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	c := s.c
	k := trialKey{req.SweepId, req.TrialId}
	c.mu.Lock()
	c.touchLocked(req.WorkerId)
	c.mu.Unlock()
	if c.currentLease(k, req.Token) == nil {
		return nil, errLeaseLost(k.sweep, k.trial)
	}
	now := c.cfg.Clock.Now()
	expiry := now.Add(c.cfg.LeaseTTL)
	_, err := c.transition(k, func(t *pb.Trial) error {
		if t.State != pb.TrialState_TRIAL_STATE_RUNNING || t.LeaseToken != req.Token {
			return errSkip
		}
		t.LeaseExpireTime = timestamppb.New(expiry)
		t.Curve = appendEpochs(t.Curve, req.NewMetrics)
		t.UpdateTime = timestamppb.New(now)
		return nil
	})
	if errors.Is(err, errSkip) {
		c.dropLease(k, req.Token)
		return nil, errLeaseLost(k.sweep, k.trial)
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "heartbeat: %v", err)
	}
	c.mu.Lock()
	if l := c.leases[k]; l != nil && l.token == req.Token {
		l.expiry = expiry
	}
	c.mu.Unlock()
	return &pb.HeartbeatResponse{ExpireTime: timestamppb.New(expiry)}, nil
}

// appendEpochs adds streamed epochs to a curve, ignoring epochs already
// present (a heartbeat retried after a lost reply).
func appendEpochs(curve, add []*pb.EpochMetrics) []*pb.EpochMetrics {
	last := int32(0)
	if n := len(curve); n > 0 {
		last = curve[n-1].Epoch
	}
	for _, m := range add {
		if m.Epoch > last {
			curve = append(curve, m)
			last = m.Epoch
		}
	}
	return curve
}

func (s *workerServer) CompleteTrial(_ context.Context, req *pb.CompleteTrialRequest) (*pb.CompleteTrialResponse, error) {
	c := s.c
	if req.Result == nil {
		return nil, status.Error(codes.InvalidArgument, "result: required")
	}
	if req.Token == "" {
		return nil, status.Error(codes.InvalidArgument, "token: required")
	}
	k := trialKey{req.SweepId, req.TrialId}
	c.mu.Lock()
	c.touchLocked(req.WorkerId)
	c.mu.Unlock()
	duplicate := false
	now := c.cfg.Clock.Now()
	_, err := c.transition(k, func(t *pb.Trial) error {
		duplicate = false
		if t.LeaseToken != req.Token {
			return errLeaseLost(k.sweep, k.trial)
		}
		switch t.State {
		case pb.TrialState_TRIAL_STATE_SUCCEEDED:
			if !proto.Equal(t.Result, req.Result) {
				return status.Errorf(codes.AlreadyExists, "trial %s/%s already has a different result", k.sweep, k.trial)
			}
			duplicate = true
			return errSkip
		case pb.TrialState_TRIAL_STATE_RUNNING:
		default:
			return errLeaseLost(k.sweep, k.trial)
		}
		t.State = pb.TrialState_TRIAL_STATE_SUCCEEDED
		t.Result = req.Result
		t.Curve = req.Result.Curve
		t.LeaseExpireTime = nil
		t.LastError = ""
		t.UpdateTime = timestamppb.New(now)
		return nil
	})
	switch {
	case duplicate:
		return &pb.CompleteTrialResponse{Duplicate: true}, nil
	case err != nil && status.Code(err) != codes.Unknown:
		return nil, err
	case errors.Is(err, store.ErrNotFound):
		return nil, status.Errorf(codes.NotFound, "%v", err)
	case err != nil:
		return nil, status.Errorf(codes.Internal, "record result: %v", err)
	}
	if l, ok := c.dropLease(k, req.Token); ok {
		c.mu.Lock()
		if sw := c.sweeps[k.sweep]; sw != nil {
			sw.markFinished(now)
			sw.learn(l.feat, time.Duration(req.Result.DurationSeconds*float64(time.Second)), now)
		}
		c.mu.Unlock()
	}
	c.log.Info("trial succeeded", "sweep", k.sweep, "trial", k.trial, "worker", req.WorkerId,
		"test_acc", req.Result.TestAcc, "lambda_max", req.Result.LambdaMax, "diverged", req.Result.Diverged)
	return &pb.CompleteTrialResponse{}, nil
}

func (s *workerServer) FailTrial(_ context.Context, req *pb.FailTrialRequest) (*pb.FailTrialResponse, error) {
	c := s.c
	k := trialKey{req.SweepId, req.TrialId}
	c.mu.Lock()
	c.touchLocked(req.WorkerId)
	c.mu.Unlock()
	l := c.currentLease(k, req.Token)
	if l == nil {
		return nil, errLeaseLost(k.sweep, k.trial)
	}
	now := c.cfg.Clock.Now()
	c.mu.Lock()
	u := c.jitter.Float64()
	c.mu.Unlock()
	var retryAt time.Time
	t, err := c.transition(k, func(t *pb.Trial) error {
		if t.State != pb.TrialState_TRIAL_STATE_RUNNING || t.LeaseToken != req.Token {
			return errSkip
		}
		t.LastError = req.Error
		t.LeaseToken, t.LeaseExpireTime = "", nil
		t.UpdateTime = timestamppb.New(now)
		if t.Attempt >= int32(c.cfg.MaxAttempts) {
			t.State = pb.TrialState_TRIAL_STATE_DISCARDED
			return nil
		}
		t.State = pb.TrialState_TRIAL_STATE_FAILED
		retryAt = now.Add(c.backoff(t.Attempt, u))
		t.RetryTime = timestamppb.New(retryAt)
		return nil
	})
	c.dropLease(k, req.Token)
	if errors.Is(err, errSkip) {
		return nil, errLeaseLost(k.sweep, k.trial)
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "record failure: %v", err)
	}
	if t.State == pb.TrialState_TRIAL_STATE_FAILED {
		c.mu.Lock()
		c.retries[k] = retryAt
		c.mu.Unlock()
	}
	c.log.Warn("trial attempt failed", "sweep", k.sweep, "trial", k.trial, "worker", req.WorkerId,
		"attempt", t.Attempt, "state", store.StateName(t.State), "err", req.Error)
	return &pb.FailTrialResponse{State: t.State}, nil
}

func (s *workerServer) ReleaseTrial(_ context.Context, req *pb.ReleaseTrialRequest) (*pb.ReleaseTrialResponse, error) {
	if err := s.c.release(trialKey{req.SweepId, req.TrialId}, req.Token); err != nil {
		return nil, err
	}
	s.c.log.Info("trial handed back", "sweep", req.SweepId, "trial", req.TrialId, "worker", req.WorkerId)
	return &pb.ReleaseTrialResponse{}, nil
}

// handBack returns a lease that never reached its worker to pending, without
// counting the attempt (see release).
func (c *Coordinator) handBack(l *pb.Lease) {
	if err := c.release(trialKey{l.SweepId, l.TrialId}, l.Token); err != nil {
		c.log.Warn("could not hand back an undelivered lease; it will expire", "sweep", l.SweepId, "trial", l.TrialId, "err", err)
		return
	}
	c.log.Info("undelivered lease handed back", "sweep", l.SweepId, "trial", l.TrialId)
}

// release returns a leased trial to pending without counting the attempt:
// a worker handing back what it holds, or a lease that never reached its
// worker (handBack). It fails with errLeaseLost unless token is the
// trial's current lease.
func (c *Coordinator) release(k trialKey, token string) error {
	l := c.currentLease(k, token)
	if l == nil {
		return errLeaseLost(k.sweep, k.trial)
	}
	now := c.cfg.Clock.Now()
	t, err := c.transition(k, func(t *pb.Trial) error {
		if t.State != pb.TrialState_TRIAL_STATE_RUNNING || t.LeaseToken != token {
			return errSkip
		}
		t.State = pb.TrialState_TRIAL_STATE_PENDING
		t.Attempt--
		t.LeaseToken, t.LeaseExpireTime, t.Curve = "", nil, nil
		t.UpdateTime = timestamppb.New(now)
		return nil
	})
	c.dropLease(k, token)
	if errors.Is(err, errSkip) {
		return errLeaseLost(k.sweep, k.trial)
	}
	if err != nil {
		return status.Errorf(codes.Internal, "release: %v", err)
	}
	p := c.pending(t, l.feat)
	c.mu.Lock()
	c.requeueLocked(p)
	c.mu.Unlock()
	return nil
}
