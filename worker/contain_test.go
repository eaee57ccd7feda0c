package worker

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// startRun starts a worker running trials with run.
func startRun(t *testing.T, addr string, run RunFunc) {
	t.Helper()
	w := New(dialT(t, addr), Config{Name: "t", Run: run, AcquireWait: 200 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	go func() { _ = w.Run(ctx); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })
}

// TestWorkerContainsPanic: a trial that panics is failed with the panic's
// message and stack, and the worker lives on to run its retry.
func TestWorkerContainsPanic(t *testing.T) {
	e := setup(t, 2*time.Second)
	var calls atomic.Int32
	startRun(t, e.addr, func(_ context.Context, _ spec.Trial, _ func(spec.EpochMetrics)) (spec.Result, error) {
		if calls.Add(1) == 1 {
			panic(fmt.Sprintf("index %d out of range in the trial", 7))
		}
		return spec.Result{TestAcc: 0.75, TrainAcc: 0.8}, nil
	})
	e.submit(t)
	failed := e.waitState(t, pb.TrialState_TRIAL_STATE_FAILED)
	if !strings.HasPrefix(failed.LastError, "panic: index 7 out of range in the trial") || !strings.Contains(failed.LastError, "worker.TestWorkerContainsPanic") {
		t.Errorf("failed attempt's error %q: want the panic's message and stack", failed.LastError)
	}
	if failed.PermanentFailure {
		t.Error("a panic was reported as an input error")
	}
	done := e.waitState(t, pb.TrialState_TRIAL_STATE_SUCCEEDED)
	if done.Attempt != 2 || done.Result.TestAcc != 0.75 || calls.Load() != 2 {
		t.Fatalf("retry after the panic: attempt %d, result %v, %d runs", done.Attempt, done.Result, calls.Load())
	}
}

// TestInputErrorDiscardsAtOnce: an error of the trial's input (here an
// invalid spec) discards the trial after one attempt, its reason stored and
// marked permanent; another error is retried.
func TestInputErrorDiscardsAtOnce(t *testing.T) {
	e := setup(t, 2*time.Second)
	var calls atomic.Int32
	startRun(t, e.addr, func(context.Context, spec.Trial, func(spec.EpochMetrics)) (spec.Result, error) {
		calls.Add(1)
		return spec.Result{}, fmt.Errorf("model: %w", &spec.FieldError{Field: "model.hidden", Value: "[0]", Problem: "widths must be ≥ 1"})
	})
	e.submit(t)
	tr := e.waitState(t, pb.TrialState_TRIAL_STATE_DISCARDED)
	if tr.Attempt != 1 || !tr.PermanentFailure || !strings.Contains(tr.LastError, "model.hidden") {
		t.Fatalf("discarded trial: attempt %d, permanent %v, error %q; want 1, true and the field", tr.Attempt, tr.PermanentFailure, tr.LastError)
	}
	time.Sleep(300 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("an input error was retried: %d runs", n)
	}
}

// TestRejectedResultFailsTrial: a result the coordinator refuses as invalid
// (a test accuracy outside [0, 1]) is not retried forever: the trial fails
// for good, with the coordinator's reason, and no result is stored.
func TestRejectedResultFailsTrial(t *testing.T) {
	e := setup(t, 2*time.Second)
	startRun(t, e.addr, func(context.Context, spec.Trial, func(spec.EpochMetrics)) (spec.Result, error) {
		return spec.Result{TestAcc: 1.5}, nil
	})
	e.submit(t)
	tr := e.waitState(t, pb.TrialState_TRIAL_STATE_DISCARDED)
	if tr.Result != nil || !tr.PermanentFailure || !strings.Contains(tr.LastError, "result.test_acc") {
		t.Fatalf("trial with a rejected result: %v", tr)
	}
}
