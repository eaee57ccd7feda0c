package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/coordinator"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// serveSimulated serves a coordinator that accepts simulated trials or not
// on a loopback socket.
func serveSimulated(t *testing.T, accept bool) *env {
	t.Helper()
	return serve(t, coordinator.Config{LeaseTTL: 3 * time.Second, Logger: quiet, AcceptSimulated: accept})
}

// TestSimulationDuration: d = PerTrial + PerUpdate·u with u the step
// budget, or epochs·⌊N/B⌋.
func TestSimulationDuration(t *testing.T) {
	s := Simulation{PerTrial: time.Second, PerUpdate: time.Millisecond}
	var tr spec.Trial
	tr.Dataset.N, tr.Epochs, tr.BatchSize = 1000, 3, 64 // ⌊1000/64⌋ = 15 updates an epoch
	if got, want := s.Duration(tr), time.Second+45*time.Millisecond; got != want {
		t.Errorf("epochs: got %s, want %s", got, want)
	}
	tr.Epochs, tr.Steps = 0, 200
	if got, want := s.Duration(tr), time.Second+200*time.Millisecond; got != want {
		t.Errorf("steps: got %s, want %s", got, want)
	}
}

// TestSimulatedTrialMarked: a simulated worker's trial goes through the
// real lease and report path and is stored marked simulated, with no
// measurement, and after the simulated duration.
func TestSimulatedTrialMarked(t *testing.T) {
	e := serveSimulated(t, true)
	e.submit(t)
	w := New(dialT(t, e.addr), Config{Name: "sim", Logger: quiet, Simulate: &Simulation{PerTrial: 300 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	tr := e.waitState(t, pb.TrialState_TRIAL_STATE_SUCCEEDED)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r := tr.Result
	if !r.Simulated {
		t.Fatal("stored result is not marked simulated")
	}
	if r.TestAcc != 0 || r.TrainLoss != 0 || r.LambdaMax != 0 || len(r.Measures) != 0 {
		t.Errorf("simulated result carries measurements: %v", r)
	}
	// oneTrial: N = 64, B = 8, one epoch.
	if r.Steps != 8 {
		t.Errorf("steps = %d, want 8", r.Steps)
	}
	if r.DurationSeconds < 0.3 {
		t.Errorf("duration %.3fs, want ≥ 0.3s", r.DurationSeconds)
	}
}

// TestSimulatedWorkerRefused: a coordinator that does not accept simulated
// trials refuses the worker at registration, before any trial is leased,
// and refuses a simulated result from a real worker's lease.
func TestSimulatedWorkerRefused(t *testing.T) {
	e := serveSimulated(t, false)
	e.submit(t)
	w := New(dialT(t, e.addr), Config{Name: "sim", Logger: quiet, Simulate: &Simulation{}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := w.Run(ctx)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "--accept-simulated") {
		t.Fatalf("Run: got %v, want InvalidArgument naming --accept-simulated", err)
	}
	if st := e.trial(t).State; st != pb.TrialState_TRIAL_STATE_PENDING {
		t.Fatalf("trial is %v, want still pending", st)
	}

	// A registered real worker that reports a simulated result is refused.
	wc := pb.NewWorkerServiceClient(dialT(t, e.addr))
	reg, err := wc.RegisterWorker(ctx, &pb.RegisterWorkerRequest{Name: "real", Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	acq, err := wc.AcquireTrial(ctx, &pb.AcquireTrialRequest{WorkerId: reg.WorkerId})
	if err != nil || acq.Lease == nil {
		t.Fatalf("acquire: %v, lease %v", err, acq.GetLease())
	}
	l := acq.Lease
	_, err = wc.CompleteTrial(ctx, &pb.CompleteTrialRequest{WorkerId: reg.WorkerId, SweepId: l.SweepId, TrialId: l.TrialId,
		Token: l.Token, Result: &pb.TrialResult{Simulated: true, DurationSeconds: 1}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("complete: got %v, want InvalidArgument", err)
	}
	// Leases are written behind, so the stored trial may still read pending.
	if tr := e.trial(t); tr.State == pb.TrialState_TRIAL_STATE_SUCCEEDED || tr.Result != nil {
		t.Fatalf("trial is %v with result %v, want nothing stored", tr.State, tr.Result)
	}
}
