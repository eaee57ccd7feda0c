package lease

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// Heartbeat renews a running trial's lease and adds the epochs streamed
// since the last heartbeat to its stored curve. It returns the new expiry,
// ErrLeaseLost when token is not the trial's live lease held by workerID
// (the worker then stops the trial), or ErrInvalid — nothing stored, the
// lease not renewed — when the epochs are not valid metrics or would make
// the curve longer than Limits.MaxCurveEpochs.
func (c *Core) Heartbeat(workerID string, k Key, token string, epochs []*pb.EpochMetrics) (time.Time, error) {
	c.touch(workerID)
	if _, err := c.liveLease(workerID, k, token); err != nil {
		return time.Time{}, err
	}
	if err := c.cfg.Limits.ValidateEpochs(epochs, 0); err != nil {
		return time.Time{}, err
	}
	now := c.cfg.Clock.Now()
	expiry := now.Add(c.cfg.LeaseTTL)
	_, err := c.transition(k, func(t *pb.Trial) error {
		if t.State != pb.TrialState_TRIAL_STATE_RUNNING || t.LeaseToken != token || t.WorkerId != workerID {
			return errSkip
		}
		if len(epochs) > 0 {
			if err := c.cfg.Limits.ValidateEpochs(newEpochs(t.Curve, epochs), len(t.Curve)); err != nil {
				return err
			}
		}
		t.LeaseExpireTime = timestamppb.New(expiry)
		t.Curve = appendEpochs(t.Curve, epochs)
		t.UpdateTime = timestamppb.New(now)
		return nil
	})
	if errors.Is(err, errSkip) {
		c.dropLease(k, token)
		return time.Time{}, c.leaseLost(k)
	}
	if errors.Is(err, ErrInvalid) {
		return time.Time{}, err
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
	return append(curve, newEpochs(curve, add)...)
}

// newEpochs returns the epochs of add that come after the last of curve.
func newEpochs(curve, add []*pb.EpochMetrics) []*pb.EpochMetrics {
	last := int32(0)
	if n := len(curve); n > 0 {
		last = curve[n-1].Epoch
	}
	i := 0
	for i < len(add) && add[i].Epoch <= last {
		i++
	}
	return add[i:]
}

// Complete records a trial's result under its live lease, durably, and
// reports whether it was a repeat of the result already recorded under the
// same token by the same worker (acknowledged and ignored). A different
// result under that token is ErrConflict; a token that is not the trial's
// live lease held by workerID is ErrLeaseLost; a result that fails
// Limits.ValidateResult, or is simulated on a core without
// Config.AcceptSimulated, is ErrInvalid, and nothing is stored.
func (c *Core) Complete(workerID string, k Key, token string, res *pb.TrialResult) (duplicate bool, err error) {
	return c.CompleteWithLog(workerID, k, token, res, nil)
}

// CompleteWithLog is Complete that also stores log, the output of a command
// trial's attempt, with the result in one transaction (nothing of either is
// stored when the result is refused). A log is checked against
// Limits.MaxLogBytes.
func (c *Core) CompleteWithLog(workerID string, k Key, token string, res *pb.TrialResult, log *pb.CommandLog) (duplicate bool, err error) {
	if token == "" {
		return false, fmt.Errorf("%w: token: required", ErrInvalid)
	}
	if err := c.cfg.Limits.ValidateResult(res); err != nil {
		return false, err
	}
	if err := c.cfg.Limits.ValidateLog(log); err != nil {
		return false, err
	}
	if res.Simulated && !c.cfg.AcceptSimulated {
		return false, errSimulated
	}
	c.touch(workerID)
	_, liveErr := c.liveLease(workerID, k, token)
	now := c.cfg.Clock.Now()
	_, err = c.transitionLog(k, log, func(t *pb.Trial) error {
		duplicate = false
		if t.LeaseToken != token || t.WorkerId != workerID {
			return c.leaseLost(k)
		}
		switch t.State {
		case pb.TrialState_TRIAL_STATE_SUCCEEDED:
			if !proto.Equal(t.Result, res) {
				return fmt.Errorf("%w: trial %s/%s already has a different result", ErrConflict, k.Sweep, k.Trial)
			}
			duplicate = true
			return errSkip
		case pb.TrialState_TRIAL_STATE_RUNNING:
			if liveErr != nil {
				return liveErr
			}
		default:
			return c.leaseLost(k)
		}
		endAttempt(t, "succeeded", "", now)
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

// Fail records a failed attempt under the live lease held by workerID: the
// trial is retried after a jittered exponential backoff, or discarded once it
// has used its attempts — or at once when the failure is permanent (an error
// of the trial's input, which no retry mends). The reason is stored,
// truncated to Limits.MaxErrorBytes. It returns the trial's new state (failed
// or discarded).
func (c *Core) Fail(workerID string, k Key, token, reason string, permanent bool) (pb.TrialState, error) {
	return c.FailWithLog(workerID, k, token, reason, permanent, nil)
}

// FailWithLog is Fail that also stores log, the output of a command trial's
// attempt, with the failure in one transaction. A log is checked against
// Limits.MaxLogBytes.
func (c *Core) FailWithLog(workerID string, k Key, token, reason string, permanent bool, log *pb.CommandLog) (pb.TrialState, error) {
	if err := c.cfg.Limits.ValidateLog(log); err != nil {
		return 0, err
	}
	c.touch(workerID)
	if _, err := c.liveLease(workerID, k, token); err != nil {
		return 0, err
	}
	reason = truncate(strings.ToValidUTF8(reason, "\uFFFD"), c.cfg.Limits.MaxErrorBytes)
	now := c.cfg.Clock.Now()
	c.mu.Lock()
	u := c.jitter.Float64()
	c.mu.Unlock()
	var retryAt time.Time
	t, err := c.transitionLog(k, log, func(t *pb.Trial) error {
		if t.State != pb.TrialState_TRIAL_STATE_RUNNING || t.LeaseToken != token || t.WorkerId != workerID {
			return errSkip
		}
		t.LastError = reason
		t.PermanentFailure = permanent
		endAttempt(t, "failed", reason, now)
		t.LeaseToken, t.LeaseExpireTime = "", nil
		t.UpdateTime = timestamppb.New(now)
		if permanent || t.Attempt >= int32(c.cfg.MaxAttempts) {
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
		return 0, c.leaseLost(k)
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
		"attempt", t.Attempt, "state", store.StateName(t.State), "permanent", permanent, "err", reason)
	return t.State, nil
}

// maxAttemptLog bounds Trial.attempts: the latest entries are kept.
const maxAttemptLog = 32

// beginAttempt logs the start of a trial's attempt under a new lease.
func beginAttempt(t *pb.Trial, worker string, now time.Time) {
	t.Attempts = append(t.Attempts, &pb.AttemptRecord{Attempt: t.Attempt, WorkerId: worker, StartTime: timestamppb.New(now)})
	if n := len(t.Attempts); n > maxAttemptLog {
		t.Attempts = append(t.Attempts[:0], t.Attempts[n-maxAttemptLog:]...)
	}
}

// endAttempt logs how a trial's running attempt ended; it does nothing when
// the log has no attempt running (a trial stored before the log existed).
func endAttempt(t *pb.Trial, outcome, reason string, now time.Time) {
	n := len(t.Attempts)
	if n == 0 || t.Attempts[n-1].EndTime != nil {
		return
	}
	a := t.Attempts[n-1]
	a.EndTime, a.Outcome, a.Error = timestamppb.New(now), outcome, reason
}
