package lease

import (
	"fmt"
	"strings"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// ValidateLog checks an attempt's log (nil passes): each of its output
// tails at most MaxLogBytes, byte counts ≥ 0. Its outcome is truncated to
// MaxErrorBytes, as a failure's reason is.
func (l Limits) ValidateLog(log *pb.CommandLog) error {
	if log == nil {
		return nil
	}
	switch {
	case len(log.Stdout) > l.MaxLogBytes:
		return fmt.Errorf("%w: log.stdout: %d bytes exceed the limit of %d", ErrInvalid, len(log.Stdout), l.MaxLogBytes)
	case len(log.Stderr) > l.MaxLogBytes:
		return fmt.Errorf("%w: log.stderr: %d bytes exceed the limit of %d", ErrInvalid, len(log.Stderr), l.MaxLogBytes)
	case log.StdoutDropped < 0 || log.StderrDropped < 0:
		return fmt.Errorf("%w: log: dropped byte counts must be ≥ 0", ErrInvalid)
	case len(log.WorkerId) > maxWorkerName:
		return fmt.Errorf("%w: log.worker_id: at most %d bytes", ErrInvalid, maxWorkerName)
	}
	log.Outcome = truncate(strings.ToValidUTF8(log.Outcome, "\uFFFD"), l.MaxErrorBytes)
	return nil
}

// Logs returns the stored logs of a trial's attempts (one attempt's when
// attempt > 0); ErrNotFound (wrapped) when the trial does not exist.
func (c *Core) Logs(k Key, attempt int32) ([]*pb.CommandLog, error) {
	if _, err := c.store.GetTrial(k.Sweep, k.Trial); err != nil {
		return nil, err
	}
	return c.store.Logs(k.Sweep, k.Trial, attempt)
}

// needs is what a worker must offer to run a sweep's trials.
type needs struct {
	gpus    int32 // GPUs each trial needs (command.gpus)
	slots   int32 // worker slots each trial occupies (command.slots, ≥ 1)
	command bool  // its trials run a command
}

// needsOfSpec returns what the workers of a sweep's trials need.
func needsOfSpec(s spec.Sweep) needs {
	return needs{gpus: int32(s.Command.GPUs), slots: int32(max(s.Command.SlotsNeeded(), 1)), command: len(s.Command.Argv) > 0}
}

// needsOf returns what the workers of a stored sweep's trials need.
func needsOf(sw *pb.Sweep) needs {
	s, err := spec.DecodeSweep([]byte(sw.SpecJson))
	if err != nil {
		return needs{slots: 1}
	}
	return needsOfSpec(s)
}

// LogAttempt stores the log of a command trial's attempt that ended without
// a report carrying it: stopped by a cancel, or after its lease was lost.
// It is accepted once, from the worker the attempt's record names, once
// that attempt has ended; otherwise it fails with ErrLeaseLost (another
// worker's attempt, or one still running) or ErrInvalid.
func (c *Core) LogAttempt(workerID string, k Key, log *pb.CommandLog) error {
	if log == nil || log.Attempt < 1 {
		return fmt.Errorf("%w: log: required, with its attempt (≥ 1)", ErrInvalid)
	}
	if err := c.cfg.Limits.ValidateLog(log); err != nil {
		return err
	}
	c.touch(workerID)
	log.WorkerId = workerID
	_, err := c.store.PutAttemptLog(k.Sweep, k.Trial, log, func(t *pb.Trial) error {
		for _, a := range t.Attempts {
			if a.Attempt != log.Attempt {
				continue
			}
			switch {
			case a.WorkerId != workerID:
				return fmt.Errorf("%w: attempt %d of trial %s/%s ran on worker %q", ErrLeaseLost, log.Attempt, k.Sweep, k.Trial, a.WorkerId)
			case a.EndTime == nil:
				return fmt.Errorf("%w: attempt %d of trial %s/%s is still running: its report carries its log", ErrLeaseLost, log.Attempt, k.Sweep, k.Trial)
			}
			return nil
		}
		return fmt.Errorf("%w: trial %s/%s has no record of attempt %d", ErrLeaseLost, k.Sweep, k.Trial, log.Attempt)
	})
	if err != nil {
		return fmt.Errorf("log attempt: %w", err)
	}
	return nil
}
