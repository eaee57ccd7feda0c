package coordinator

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/flatsweep/flatsweep/coordinator/lease"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// Tests of a coordinator facing hostile or broken peers: each check holds
// with the mechanism it names and fails without it.

// goodResult is a valid result with a curve of the given epochs.
func goodResult(acc float64, epochs int) *pb.TrialResult {
	r := &pb.TrialResult{TrainLoss: 0.2, TrainAcc: acc, TestLoss: 0.4, TestAcc: acc - 0.1, LambdaMax: 3, LambdaResidual: 1e-9,
		Params: 10, Steps: int64(epochs), DurationSeconds: 1}
	r.Curve = curve(1, epochs)
	return r
}

// acquireStored acquires a lease and waits until it is stored (leases are
// written behind).
func (b *bundle) acquireStored(t *testing.T, worker string) *pb.Lease {
	t.Helper()
	l := b.acquire(t, worker)
	if l == nil {
		return nil
	}
	for deadline := time.Now().Add(5 * time.Second); b.trial(t, l).LeaseToken != l.Token; {
		if time.Now().After(deadline) {
			t.Fatalf("lease of %s never stored", l.TrialId)
		}
		time.Sleep(time.Millisecond)
	}
	return l
}

// curve returns epochs from..from+n-1 of valid metrics.
func curve(from, n int) []*pb.EpochMetrics {
	out := make([]*pb.EpochMetrics, n)
	for i := range out {
		out[i] = &pb.EpochMetrics{Epoch: int32(from + i), TrainLoss: 0.5, TrainAcc: 0.5, TestLoss: 0.6, TestAcc: 0.4, Step: int64(from + i), Lr: 0.1, BatchSize: 8}
	}
	return out
}

// TestLeaseTokensStayWithTheirWorker: a client listing running trials
// learns no lease token, and a second worker cannot complete, heartbeat,
// fail or release a lease it does not hold — not under its own ID with the
// victim's token, not under the victim's ID with a guessed one. The victim's
// genuine result is then recorded under its own worker.
func TestLeaseTokensStayWithTheirWorker(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	victim, thief := b.register(t), b.register(t)
	l := b.acquireStored(t, victim)
	ctx := context.Background()

	resp, err := b.sweeps.QueryResults(ctx, &pb.QueryResultsRequest{SweepId: l.SweepId, State: pb.TrialState_TRIAL_STATE_RUNNING})
	if err != nil || len(resp.Trials) != 1 {
		t.Fatalf("query running trials: %v, %d trials", err, len(resp.GetTrials()))
	}
	leaked := resp.Trials[0].LeaseToken
	if leaked != "" {
		t.Errorf("QueryResults returned the running trial's lease token %q", leaked)
	}
	guess := "0" + l.Token[1:] // a guess that differs from the token in its first character
	if guess == l.Token {
		guess = "1" + l.Token[1:]
	}
	forged := goodResult(0.999, 1)
	forged.LambdaMax = 42
	for _, try := range []struct{ worker, token string }{
		{thief, l.Token}, // the victim's token under the thief's ID
		{victim, leaked}, // whatever the query gave, under the victim's ID
		{victim, guess},
	} {
		k := &pb.CompleteTrialRequest{WorkerId: try.worker, SweepId: l.SweepId, TrialId: l.TrialId, Token: try.token, Result: forged}
		if _, err := b.work.CompleteTrial(ctx, k); status.Code(err) != codes.FailedPrecondition && status.Code(err) != codes.InvalidArgument {
			t.Errorf("complete by %s with token %q: %v, want FailedPrecondition", try.worker, try.token, err)
		}
		if _, err := b.work.Heartbeat(ctx, &pb.HeartbeatRequest{WorkerId: try.worker, SweepId: l.SweepId, TrialId: l.TrialId, Token: try.token}); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("heartbeat by %s: %v, want FailedPrecondition", try.worker, err)
		}
		if _, err := b.work.FailTrial(ctx, &pb.FailTrialRequest{WorkerId: try.worker, SweepId: l.SweepId, TrialId: l.TrialId, Token: try.token, Error: "x"}); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("fail by %s: %v, want FailedPrecondition", try.worker, err)
		}
		if _, err := b.work.ReleaseTrial(ctx, &pb.ReleaseTrialRequest{WorkerId: try.worker, SweepId: l.SweepId, TrialId: l.TrialId, Token: try.token}); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("release by %s: %v, want FailedPrecondition", try.worker, err)
		}
	}
	if tr := b.trial(t, l); tr.State != pb.TrialState_TRIAL_STATE_RUNNING || tr.WorkerId != victim {
		t.Fatalf("after the attempts the trial is %v held by %s", tr.State, tr.WorkerId)
	}
	genuine := goodResult(0.8, 1)
	if _, err := b.work.CompleteTrial(ctx, &pb.CompleteTrialRequest{WorkerId: victim, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Result: genuine}); err != nil {
		t.Fatalf("the victim's genuine result: %v", err)
	}
	if tr := b.trial(t, l); !proto.Equal(tr.Result, genuine) || tr.WorkerId != victim {
		t.Fatalf("stored result %v by %s, want the victim's", tr.Result, tr.WorkerId)
	}
}

// TestExpiredLeaseRefusedAtCallTime: once its expiry has passed, a lease is
// refused — heartbeat and result — even before the rescuer has run; the
// rescuer then returns the trial to pending.
func TestExpiredLeaseRefusedAtCallTime(t *testing.T) {
	for _, late := range []time.Duration{0, 100 * time.Millisecond, 330 * time.Millisecond, 790 * time.Millisecond} {
		b := setup(t, "")
		b.submit(t)
		w := b.register(t)
		l := b.acquireStored(t, w)
		b.clock.Advance(10*time.Second + late) // the lease TTL, and then some
		ctx := context.Background()
		if _, err := b.work.Heartbeat(ctx, &pb.HeartbeatRequest{WorkerId: w, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token}); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("heartbeat %v after expiry: %v, want FailedPrecondition", late, err)
		}
		if _, err := b.work.CompleteTrial(ctx, &pb.CompleteTrialRequest{WorkerId: w, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Result: goodResult(0.9, 1)}); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("result %v after expiry: %v, want FailedPrecondition", late, err)
		}
		if tr := b.trial(t, l); tr.State != pb.TrialState_TRIAL_STATE_RUNNING || tr.Result != nil {
			t.Fatalf("%v after expiry, before the rescuer: %v", late, tr)
		}
		b.c.Rescue()
		if tr := b.trial(t, l); tr.State != pb.TrialState_TRIAL_STATE_PENDING {
			t.Fatalf("after the rescuer: %v", tr.State)
		}
	}
}

// TestResultsValidated: results that no trial produces — NaN or infinite
// metrics, accuracies outside [0, 1], negative losses, a malformed curve or
// density — are refused with InvalidArgument naming the field, and nothing is
// stored: the trial stays running, and its valid result is then recorded.
func TestResultsValidated(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	w := b.register(t)
	l := b.acquireStored(t, w)
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct {
		field string
		mod   func(*pb.TrialResult)
	}{
		{"result.train_loss", func(r *pb.TrialResult) { r.TrainLoss = nan }},
		{"result.train_acc", func(r *pb.TrialResult) { r.TrainAcc = inf }},
		{"result.test_acc", func(r *pb.TrialResult) { r.TestAcc = -5 }},
		{"result.lambda_max", func(r *pb.TrialResult) { r.LambdaMax = nan }},
		{"result.test_loss", func(r *pb.TrialResult) { r.TestLoss = -1 }},
		{"result.duration_seconds", func(r *pb.TrialResult) { r.DurationSeconds = inf }},
		{"result.measures[trace]", func(r *pb.TrialResult) { r.Measures = map[string]float64{"trace": nan} }},
		{"result.curve[0].test_acc", func(r *pb.TrialResult) { r.Curve[0].TestAcc = 2 }},
		{"result.curve[1].epoch", func(r *pb.TrialResult) { r.Curve = append(r.Curve, &pb.EpochMetrics{Epoch: 1}) }},
		{"result.density.runs[0]", func(r *pb.TrialResult) {
			r.Density = &pb.SpectralDensity{Params: 10, Runs: []*pb.QuadratureRun{{Nodes: []float64{1, 2}, Weights: []float64{1}}}}
		}},
		{"result.hvps", func(r *pb.TrialResult) { r.Hvps = -1 }},
		{"result.curvature_seconds", func(r *pb.TrialResult) { r.CurvatureSeconds = -2 }},
		{"result.costs[0].seconds", func(r *pb.TrialResult) { r.Costs = []*pb.MeasureCost{{Measure: "top_k", Seconds: nan}} }},
		{"result.costs[1].residuals[0]", func(r *pb.TrialResult) {
			r.Costs = []*pb.MeasureCost{{Measure: "hessian"}, {Measure: "top_k", Residuals: []float64{inf}}}
		}},
		{"result.costs[0]: hvps", func(r *pb.TrialResult) { r.Costs = []*pb.MeasureCost{{Measure: "trace", Hvps: -3}} }},
		{"result: required", func(r *pb.TrialResult) { *r = pb.TrialResult{} }},
	} {
		r := goodResult(0.9, 1)
		c.mod(r)
		req := &pb.CompleteTrialRequest{WorkerId: w, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Result: r}
		if c.field == "result: required" {
			req.Result = nil
		}
		_, err := b.work.CompleteTrial(context.Background(), req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), c.field) {
			t.Errorf("%s: %v, want InvalidArgument naming it", c.field, err)
		}
		if tr := b.trial(t, l); tr.State != pb.TrialState_TRIAL_STATE_RUNNING || tr.Result != nil {
			t.Fatalf("%s: a refused result was stored: %v", c.field, tr)
		}
	}
	if _, err := b.work.CompleteTrial(context.Background(), &pb.CompleteTrialRequest{WorkerId: w, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Result: goodResult(0.9, 1)}); err != nil {
		t.Fatalf("valid result after the refused ones: %v", err)
	}
}

// TestCurvesBounded: a heartbeat or result whose curve passes the limit
// (lease.DefaultMaxCurveEpochs epochs) is refused and nothing of it is
// stored; and a sweep whose every trial holds a curve at the limit can
// still be queried, the pages cut by size to stay under the clients' 4 MiB
// message limit.
func TestCurvesBounded(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	w := b.register(t)
	ctx := context.Background()
	limit := lease.DefaultMaxCurveEpochs

	l := b.acquireStored(t, w)
	hb := func(from, n int) error {
		_, err := b.work.Heartbeat(ctx, &pb.HeartbeatRequest{WorkerId: w, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, NewMetrics: curve(from, n)})
		return err
	}
	if err := hb(1, limit+1); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("heartbeat with %d epochs: %v, want InvalidArgument", limit+1, err)
	}
	if err := hb(1, limit-5); err != nil {
		t.Fatalf("heartbeat within the limit: %v", err)
	}
	if err := hb(limit-4, 10); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("heartbeat that extends the curve past the limit: %v, want InvalidArgument", err)
	}
	if n := len(b.trial(t, l).Curve); n != limit-5 {
		t.Fatalf("stored curve has %d epochs, want the %d accepted", n, limit-5)
	}
	if _, err := b.work.CompleteTrial(ctx, &pb.CompleteTrialRequest{WorkerId: w, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Result: goodResult(0.9, limit+1)}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("result with %d epochs: %v, want InvalidArgument", limit+1, err)
	}
	// Every trial gets a curve at the limit: stored twice (heartbeats and
	// result), about 1.4 MB per trial.
	for trial := l; trial != nil; trial = b.acquire(t, w) {
		if _, err := b.work.CompleteTrial(ctx, &pb.CompleteTrialRequest{WorkerId: w, SweepId: trial.SweepId, TrialId: trial.TrialId, Token: trial.Token, Result: goodResult(0.9, limit)}); err != nil {
			t.Fatalf("result at the limit: %v", err)
		}
	}
	var got, pages int
	token := ""
	for {
		resp, err := b.sweeps.QueryResults(ctx, &pb.QueryResultsRequest{SweepId: l.SweepId, PageToken: token})
		if err != nil {
			t.Fatalf("query page %d: %v", pages+1, err)
		}
		got, pages = got+len(resp.Trials), pages+1
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	if got != 4 || pages < 2 {
		t.Fatalf("queried %d trials in %d pages, want 4 in several", got, pages)
	}
	if _, err := b.sweeps.AggregateResults(ctx, &pb.AggregateResultsRequest{SweepId: l.SweepId}); err != nil {
		t.Fatalf("aggregate: %v", err)
	}
}

// TestFailureReasonsShown: a permanent failure discards the trial at its
// first attempt, and the sweep's status and aggregate say why its trials
// failed.
func TestFailureReasonsShown(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	w := b.register(t)
	ctx := context.Background()
	const bad = "dataset: /data/train-images-idx3-ubyte: data: malformed data file: magic number 0, want 00000803"
	for i := 0; i < 2; i++ {
		l := b.acquire(t, w)
		resp, err := b.work.FailTrial(ctx, &pb.FailTrialRequest{WorkerId: w, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Error: bad, Permanent: true})
		if err != nil || resp.State != pb.TrialState_TRIAL_STATE_DISCARDED {
			t.Fatalf("permanent failure: %v, %v; want discarded at once", resp.GetState(), err)
		}
	}
	l := b.acquire(t, w)
	if _, err := b.work.FailTrial(ctx, &pb.FailTrialRequest{WorkerId: w, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Error: "out of memory"}); err != nil {
		t.Fatal(err)
	}
	want := []*pb.FailureReason{
		{State: "discarded", Reason: bad, Trials: 2, Permanent: true},
		{State: "failed", Reason: "out of memory", Trials: 1},
	}
	check := func(what string, got []*pb.FailureReason) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d failure reasons, want %d: %v", what, len(got), len(want), got)
		}
		for i, f := range got {
			w := want[i]
			if f.State != w.State || f.Reason != w.Reason || f.Trials != w.Trials || f.Permanent != w.Permanent || f.ExampleTrialId == "" {
				t.Errorf("%s: failure %d = %v, want %v", what, i, f, w)
			}
		}
	}
	sw, err := b.sweeps.GetSweep(ctx, &pb.GetSweepRequest{SweepId: l.SweepId})
	if err != nil {
		t.Fatal(err)
	}
	check("GetSweep", sw.Sweep.Failures)
	list, err := b.sweeps.ListSweeps(ctx, &pb.ListSweepsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	check("ListSweeps", list.Sweeps[0].Failures)
	agg, err := b.sweeps.AggregateResults(ctx, &pb.AggregateResultsRequest{SweepId: l.SweepId})
	if err != nil {
		t.Fatal(err)
	}
	check("AggregateResults", agg.Failures)
}
