package lease

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// Heartbeat renews a running trial's lease under its current token and adds
// the epochs streamed since the last heartbeat to its stored curve. It
// returns the new expiry, or ErrLeaseLost when token is not the current
// lease (the worker then stops the trial).
func (c *Core) Heartbeat(workerID string, k Key, token string, epochs []*pb.EpochMetrics) (time.Time, error) {
	c.touch(workerID)
	if c.currentLease(k, token) == nil {
		return time.Time{}, leaseLost(k)
	}
	now := c.cfg.Clock.Now()
	expiry := now.Add(c.cfg.LeaseTTL)
	_, err := c.transition(k, func(t *pb.Trial) error {
		if t.State != pb.TrialState_TRIAL_STATE_RUNNING || t.LeaseToken != token {
			return errSkip
		}
		t.LeaseExpireTime = timestamppb.New(expiry)
		t.Curve = appendEpochs(t.Curve, epochs)
		t.UpdateTime = timestamppb.New(now)
		return nil
	})
	if errors.Is(err, errSkip) {
		c.dropLease(k, token)
		return time.Time{}, leaseLost(k)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("heartbeat: %w", err)
	}
	c.mu.Lock()
	if l := c.leases[k]; l != nil && l.token == token {
		l.expiry = expiry
	}
	c.mu.Unlock()
	return expiry, nil
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

// Complete records a trial's result under its current lease, durably, and
// reports whether it was a repeat of the result already recorded under the
// same token (acknowledged and ignored). A different result under that
// token is ErrConflict; any other token is ErrLeaseLost.
func (c *Core) Complete(workerID string, k Key, token string, res *pb.TrialResult) (duplicate bool, err error) {
	if res == nil {
		return false, fmt.Errorf("%w: result: required", ErrInvalid)
	}
	if token == "" {
		return false, fmt.Errorf("%w: token: required", ErrInvalid)
	}
	c.touch(workerID)
	now := c.cfg.Clock.Now()
	_, err = c.transition(k, func(t *pb.Trial) error {
		duplicate = false
		if t.LeaseToken != token {
			return leaseLost(k)
		}
		switch t.State {
		case pb.TrialState_TRIAL_STATE_SUCCEEDED:
			if !proto.Equal(t.Result, res) {
				return fmt.Errorf("%w: trial %s/%s already has a different result", ErrConflict, k.Sweep, k.Trial)
			}
			duplicate = true
			return errSkip
		case pb.TrialState_TRIAL_STATE_RUNNING:
		default:
			return leaseLost(k)
		}
		t.State = pb.TrialState_TRIAL_STATE_SUCCEEDED
		t.Result = res
		t.Curve = res.Curve
		t.LeaseExpireTime = nil
		t.LastError = ""
		t.UpdateTime = timestamppb.New(now)
		return nil
	})
	switch {
	case duplicate:
		return true, nil
	case errors.Is(err, ErrLeaseLost), errors.Is(err, ErrConflict), errors.Is(err, store.ErrNotFound):
		return false, err
	case err != nil:
		return false, fmt.Errorf("record result: %w", err)
	}
	if l, ok := c.dropLease(k, token); ok {
		c.mu.Lock()
		if sw := c.sweeps[k.Sweep]; sw != nil {
			sw.markFinished(now)
			sw.learn(l.feat, time.Duration(res.DurationSeconds*float64(time.Second)), now)
		}
		c.mu.Unlock()
	}
	c.log.Info("trial succeeded", "sweep", k.Sweep, "trial", k.Trial, "worker", workerID,
		"test_acc", res.TestAcc, "lambda_max", res.LambdaMax, "diverged", res.Diverged)
	return false, nil
}

// Fail records a failed attempt under the current lease: the trial is
// retried after a jittered exponential backoff, or discarded once it has used
// its attempts. It returns the trial's new state (failed or discarded).
func (c *Core) Fail(workerID string, k Key, token, reason string) (pb.TrialState, error) {
	c.touch(workerID)
	if c.currentLease(k, token) == nil {
		return 0, leaseLost(k)
	}
	now := c.cfg.Clock.Now()
	c.mu.Lock()
	u := c.jitter.Float64()
	c.mu.Unlock()
	var retryAt time.Time
	t, err := c.transition(k, func(t *pb.Trial) error {
		if t.State != pb.TrialState_TRIAL_STATE_RUNNING || t.LeaseToken != token {
			return errSkip
		}
		t.LastError = reason
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
	c.dropLease(k, token)
	if errors.Is(err, errSkip) {
		return 0, leaseLost(k)
	}
	if err != nil {
		return 0, fmt.Errorf("record failure: %w", err)
	}
	if t.State == pb.TrialState_TRIAL_STATE_FAILED {
		c.mu.Lock()
		c.retries[k] = retryAt
		c.mu.Unlock()
	}
	c.log.Warn("trial attempt failed", "sweep", k.Sweep, "trial", k.Trial, "worker", workerID,
		"attempt", t.Attempt, "state", store.StateName(t.State), "err", reason)
	return t.State, nil
}
