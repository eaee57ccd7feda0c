package coordinator

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

const testSweep = `name: unit
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid: {batch_size: [8, 16], lr: [0.1], seed: [1, 2]}
`

// bundle is a coordinator served over a real loopback socket.
type bundle struct {
	c      *Coordinator
	clock  *fakeClock
	st     *store.Store
	path   string
	sweeps pb.SweepServiceClient
	work   pb.WorkerServiceClient
	conn   *grpc.ClientConn
	stop   func()
}

func setup(t *testing.T, path string) *bundle {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "flatsweep.db")
	}
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c, err := New(st, Config{
		LeaseTTL: 10 * time.Second, MaxAttempts: 2, BackoffBase: time.Second, BackoffMax: 4 * time.Second,
		Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	c.Register(srv)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{c: c, clock: clock, st: st, path: path, conn: conn,
		sweeps: pb.NewSweepServiceClient(conn), work: pb.NewWorkerServiceClient(conn)}
	var once sync.Once
	b.stop = func() {
		once.Do(func() {
			conn.Close()
			srv.Stop()
			st.Close()
		})
	}
	t.Cleanup(b.stop)
	return b
}

// parseSweep parses a sweep file as a client does before it submits it
// (flatsweep submit: sweeps.Parse, then the digests of its files).
func parseSweep(tb testing.TB, yaml, source string) spec.Sweep {
	tb.Helper()
	s, err := sweeps.Parse([]byte(yaml), source)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.ResolveFiles(); err != nil {
		tb.Fatal(err)
	}
	return s
}

// submitRequest returns the request a client sends to submit a sweep file:
// its YAML, and the parsed sweep as JSON (spec_json, which the coordinator
// reads).
func submitRequest(tb testing.TB, yaml, source string, priority int32) *pb.SubmitSweepRequest {
	tb.Helper()
	js, err := json.Marshal(parseSweep(tb, yaml, source))
	if err != nil {
		tb.Fatal(err)
	}
	return &pb.SubmitSweepRequest{SpecYaml: yaml, SpecJson: string(js), Source: source, Priority: priority}
}

// expandedSpecs returns the canonical JSON of the spec of every trial of a
// sweep file's expansion, by trial ID.
func expandedSpecs(tb testing.TB, yaml string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, tr := range sweeps.Expand(parseSweep(tb, yaml, "")) {
		js, err := spec.Canonical(tr.Spec)
		if err != nil {
			tb.Fatal(err)
		}
		out[tr.ID] = string(js)
	}
	return out
}

func (b *bundle) submit(t *testing.T) *pb.SubmitSweepResponse {
	t.Helper()
	resp, err := b.sweeps.SubmitSweep(context.Background(), submitRequest(t, testSweep, "unit.yaml", 0))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (b *bundle) register(t *testing.T) string {
	t.Helper()
	resp, err := b.work.RegisterWorker(context.Background(), &pb.RegisterWorkerRequest{Name: "w", Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	return resp.WorkerId
}

func (b *bundle) acquire(t *testing.T, worker string) *pb.Lease {
	t.Helper()
	resp, err := b.work.AcquireTrial(context.Background(), &pb.AcquireTrialRequest{WorkerId: worker, Wait: durationpb.New(0)})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Lease
}

func (b *bundle) complete(worker string, l *pb.Lease, acc float64) (*pb.CompleteTrialResponse, error) {
	return b.work.CompleteTrial(context.Background(), &pb.CompleteTrialRequest{
		WorkerId: worker, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token,
		Result: &pb.TrialResult{TrainAcc: 0.99, TestAcc: acc},
	})
}

func (b *bundle) trial(t *testing.T, l *pb.Lease) *pb.Trial {
	t.Helper()
	tr, err := b.st.GetTrial(l.SweepId, l.TrialId)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestSubmitIsIdempotent(t *testing.T) {
	b := setup(t, "")
	first := b.submit(t)
	if !first.Created || first.TrialsAdded != 4 || first.Sweep.TrialCount != 4 {
		t.Fatalf("first submit: %+v", first)
	}
	again := b.submit(t)
	if again.Created || again.TrialsAdded != 0 || again.Sweep.TrialCount != 4 {
		t.Fatalf("second submit: %+v", again)
	}
	// The client parses and validates the file; the coordinator checks the
	// sweep it receives all the same.
	for _, req := range []*pb.SubmitSweepRequest{
		{SpecJson: `{"name":"x","grid":{"batch_size":[0]}}`, Source: "bad.json"}, // invalid
		{SpecJson: `{"name":"x","colour":"red"}`, Source: "bad.json"},            // an unknown field
		{SpecYaml: testSweep, Source: "unit.yaml"},                               // YAML alone
	} {
		_, err := b.sweeps.SubmitSweep(context.Background(), req)
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("bad sweep %q: %v, want InvalidArgument", req.SpecJson, err)
		}
	}
	if list, _ := b.st.ListSweeps(); len(list) != 1 {
		t.Fatalf("a rejected sweep was stored: %d sweeps", len(list))
	}
}

func TestLeaseCompleteOnceWithCurrentToken(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	w := b.register(t)
	l := b.acquire(t, w)
	if l == nil || l.Attempt != 1 || l.Token == "" {
		t.Fatalf("lease = %v", l)
	}
	// A wrong token is refused and changes nothing.
	forged := &pb.Lease{SweepId: l.SweepId, TrialId: l.TrialId, Token: "forged"}
	if _, err := b.complete(w, forged, 0.1); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("forged token: %v, want FailedPrecondition", err)
	}
	if _, err := b.work.Heartbeat(context.Background(), &pb.HeartbeatRequest{
		WorkerId: w, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token,
		NewMetrics: []*pb.EpochMetrics{{Epoch: 1, TestAcc: 0.3}},
	}); err != nil {
		t.Fatal(err)
	}
	if c := b.trial(t, l).Curve; len(c) != 1 || c[0].TestAcc != 0.3 {
		t.Fatalf("streamed curve = %v", c)
	}
	resp, err := b.complete(w, l, 0.75)
	if err != nil || resp.Duplicate {
		t.Fatalf("complete: %v %v", resp, err)
	}
	// The same report again is acknowledged as a duplicate; a different one is refused.
	resp, err = b.complete(w, l, 0.75)
	if err != nil || !resp.Duplicate {
		t.Fatalf("repeat: %v %v, want duplicate", resp, err)
	}
	if _, err := b.complete(w, l, 0.5); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("different result: %v, want AlreadyExists", err)
	}
	tr := b.trial(t, l)
	if tr.State != pb.TrialState_TRIAL_STATE_SUCCEEDED || tr.Result.TestAcc != 0.75 || tr.Attempt != 1 {
		t.Fatalf("trial = %v", tr)
	}
}

// TestCancelledLeaseSaysSo: after a cancel, the heartbeat and the result of
// a lease it ended are refused with a status the worker reads as a
// deliberate stop (wire.IsCancelled), and a forged token is refused as an
// ordinary lost lease.
func TestCancelledLeaseSaysSo(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	w := b.register(t)
	l := b.acquire(t, w)
	if _, err := b.sweeps.CancelSweep(context.Background(), &pb.CancelSweepRequest{SweepId: "unit"}); err != nil {
		t.Fatal(err)
	}
	_, err := b.work.Heartbeat(context.Background(), &pb.HeartbeatRequest{WorkerId: w, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token})
	if status.Code(err) != codes.FailedPrecondition || !wire.IsCancelled(err) {
		t.Fatalf("heartbeat after cancel: %v, want FailedPrecondition saying the sweep was cancelled", err)
	}
	if _, err := b.complete(w, l, 0.5); !wire.IsCancelled(err) {
		t.Fatalf("result after cancel: %v", err)
	}
	if tr := b.trial(t, l); tr.State != pb.TrialState_TRIAL_STATE_CANCELLED || tr.Result != nil {
		t.Fatalf("trial after cancel and a late result: %v", tr)
	}
	b2 := setup(t, "")
	b2.submit(t)
	w2 := b2.register(t)
	l2 := b2.acquire(t, w2)
	_, err = b2.complete(w2, &pb.Lease{SweepId: l2.SweepId, TrialId: l2.TrialId, Token: "forged"}, 0.5)
	if status.Code(err) != codes.FailedPrecondition || wire.IsCancelled(err) {
		t.Fatalf("forged token on a live sweep: %v, want a plain FailedPrecondition", err)
	}
}

func TestExpiredLeaseIsReleasedAndLateResultRejected(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	w1, w2 := b.register(t), b.register(t)
	l1 := b.acquire(t, w1)
	// Drain the other three trials so the expired one is the only pending one.
	for i := 0; i < 3; i++ {
		if l := b.acquire(t, w2); l == nil {
			t.Fatal("expected a lease")
		} else if _, err := b.complete(w2, l, 0.5); err != nil {
			t.Fatal(err)
		}
	}
	b.clock.Advance(9 * time.Second)
	b.c.Rescue()
	if tr := b.trial(t, l1); tr.State != pb.TrialState_TRIAL_STATE_RUNNING {
		t.Fatalf("lease rescued before its TTL: %v", tr.State)
	}
	b.clock.Advance(2 * time.Second)
	b.c.Rescue()
	if tr := b.trial(t, l1); tr.State != pb.TrialState_TRIAL_STATE_PENDING {
		t.Fatalf("after TTL state = %v, want pending", tr.State)
	}
	if _, err := b.work.Heartbeat(context.Background(), &pb.HeartbeatRequest{
		WorkerId: w1, SweepId: l1.SweepId, TrialId: l1.TrialId, Token: l1.Token,
	}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("heartbeat on expired lease: %v, want FailedPrecondition", err)
	}
	l2 := b.acquire(t, w2)
	if l2 == nil || l2.TrialId != l1.TrialId || l2.Attempt != 2 || l2.Token == l1.Token {
		t.Fatalf("re-lease = %v", l2)
	}
	// The first worker's late result is rejected, before and after the re-lease completes.
	if _, err := b.complete(w1, l1, 0.1); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("late result: %v, want FailedPrecondition", err)
	}
	if _, err := b.complete(w2, l2, 0.9); err != nil {
		t.Fatal(err)
	}
	if _, err := b.complete(w1, l1, 0.1); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("late result after success: %v, want FailedPrecondition", err)
	}
	if tr := b.trial(t, l1); tr.Result.GetTestAcc() != 0.9 {
		t.Fatalf("recorded %v, want the re-leased attempt's 0.9", tr.Result)
	}
}

func TestFailRetriesWithBackoffThenDiscards(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	w := b.register(t)
	l := b.acquire(t, w)
	fail := func(l *pb.Lease) pb.TrialState {
		resp, err := b.work.FailTrial(context.Background(), &pb.FailTrialRequest{
			WorkerId: w, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Error: "boom",
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp.State
	}
	if st := fail(l); st != pb.TrialState_TRIAL_STATE_FAILED {
		t.Fatalf("first failure -> %v, want failed", st)
	}
	tr := b.trial(t, l)
	wait := tr.RetryTime.AsTime().Sub(b.clock.Now())
	if wait < 500*time.Millisecond || wait > time.Second {
		t.Fatalf("first backoff %v, want in [0.5s, 1s]", wait)
	}
	// Drain the other trials; the failed one is not offered before its retry time.
	for i := 0; i < 3; i++ {
		if got := b.acquire(t, w); got == nil || got.TrialId == l.TrialId {
			t.Fatalf("acquire %d = %v", i, got)
		}
	}
	if got := b.acquire(t, w); got != nil {
		t.Fatalf("failed trial re-leased before its backoff: %v", got)
	}
	b.clock.Advance(wait)
	b.c.Rescue()
	again := b.acquire(t, w)
	if again == nil || again.TrialId != l.TrialId || again.Attempt != 2 {
		t.Fatalf("retry lease = %v", again)
	}
	if st := fail(again); st != pb.TrialState_TRIAL_STATE_DISCARDED {
		t.Fatalf("failure at max attempts -> %v, want discarded", st)
	}
	if tr := b.trial(t, l); tr.LastError != "boom" {
		t.Fatalf("last error %q", tr.LastError)
	}
}

func TestRestartKeepsResultsAndRunningLeases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flatsweep.db")
	b := setup(t, path)
	b.submit(t)
	w := b.register(t)
	done := b.acquire(t, w)
	if _, err := b.complete(w, done, 0.625); err != nil {
		t.Fatal(err)
	}
	running := b.acquire(t, w)
	b.stop()

	b2 := setup(t, path)
	// The old worker's lease survives the restart: its heartbeat renews and
	// its result is accepted, although the worker must register again to acquire.
	if _, err := b2.work.Heartbeat(context.Background(), &pb.HeartbeatRequest{
		WorkerId: w, SweepId: running.SweepId, TrialId: running.TrialId, Token: running.Token,
	}); err != nil {
		t.Fatalf("heartbeat after restart: %v", err)
	}
	if _, err := b2.work.AcquireTrial(context.Background(), &pb.AcquireTrialRequest{WorkerId: w}); status.Code(err) != codes.NotFound {
		t.Fatalf("acquire by unknown worker: %v, want NotFound", err)
	}
	if _, err := b2.complete(w, running, 0.5); err != nil {
		t.Fatalf("complete after restart: %v", err)
	}
	if tr := b2.trial(t, done); tr.Result.GetTestAcc() != 0.625 {
		t.Fatalf("result lost across restart: %v", tr.Result)
	}
	// The two never-leased trials are pending again after the restart.
	w2 := b2.register(t)
	n := 0
	for b2.acquire(t, w2) != nil {
		n++
	}
	if n != 2 {
		t.Fatalf("%d trials pending after restart, want 2", n)
	}
}

func TestAcquireLongPollWakesOnSubmit(t *testing.T) {
	b := setup(t, "")
	w := b.register(t)
	got := make(chan *pb.Lease, 1)
	go func() {
		resp, err := b.work.AcquireTrial(context.Background(), &pb.AcquireTrialRequest{WorkerId: w, Wait: durationpb.New(20 * time.Second)})
		if err != nil {
			t.Error(err)
		}
		got <- resp.GetLease()
	}()
	time.Sleep(50 * time.Millisecond)
	b.submit(t)
	select {
	case l := <-got:
		if l == nil {
			t.Fatal("long poll returned no lease")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll did not wake on submit")
	}
}

func TestQueryResultsPages(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	var ids []string
	token := ""
	for {
		resp, err := b.sweeps.QueryResults(context.Background(), &pb.QueryResultsRequest{SweepId: "unit", PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range resp.Trials {
			ids = append(ids, tr.Id)
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	if len(ids) != 4 {
		t.Fatalf("paged %d trials, want 4: %v", len(ids), ids)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			t.Fatalf("not in ID order or duplicated: %v", ids)
		}
	}
	if _, err := b.sweeps.QueryResults(context.Background(), &pb.QueryResultsRequest{SweepId: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown sweep: %v, want NotFound", err)
	}
}

// trickySweep has values whose JSON takes unusual forms (exponents, a zero
// momentum that omitempty drops) and optional axes, so that leases splice
// their specs from several templates. Its twin hugeSeed has a seed beyond
// 2^53, which a float64 cannot hold: its axis values are stored exactly, as
// JSON, and its leases are spliced from a template too.
const (
	trickySweep = `name: tricky
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid:
  batch_size: [1, 16]
  lr: [1e-7, 0.05, 1e21]
  seed: [-5, 12345]
  momentum: [0, 0.9]
  weight_decay: [0, 1e-4]
`
	hugeSeed = `name: huge
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid: {batch_size: [2], lr: [0.1, 2e-7], seed: [9007199254740993]}
`
)

// putFullSpecs stores, directly in the store at path, a sweep whose trials
// carry their whole spec_json and no base: a form the store still reads,
// whose trials the coordinator queues without a template, so that their
// leases read the spec from the store.
func putFullSpecs(t *testing.T, path, name, yaml string) {
	t.Helper()
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := parseSweep(t, yaml, "")
	s.Name = name
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var trials []*pb.Trial
	for _, tr := range sweeps.Expand(s) {
		specJSON, err := spec.Canonical(tr.Spec)
		if err != nil {
			t.Fatal(err)
		}
		trials = append(trials, &pb.Trial{SweepId: name, Id: tr.ID, Index: int32(tr.Index),
			State: pb.TrialState_TRIAL_STATE_PENDING, SpecJson: string(specJSON)})
	}
	if _, _, err := st.PutSweep(&pb.Sweep{Id: name, SpecYaml: yaml, SpecJson: string(js)}, trials, nil); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseSpecsAreTheStoredSpecs checks that every lease carries byte for
// byte the spec the store rebuilds for its trial (and so hashes to its trial
// ID, and is the spec of that trial in its sweep's expansion) and the right
// attempt number — on first leases, after a hand-back, and after a
// coordinator restart — both for leases granted from memory with the spec
// spliced from a template and for leases that read the store.
func TestLeaseSpecsAreTheStoredSpecs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flatsweep.db")
	// The seeds of hugeSeed under another name, stored with full specs.
	putFullSpecs(t, path, "legacy", hugeSeed)
	b := setup(t, path)
	for i, y := range []string{trickySweep, hugeSeed} {
		// Priorities make the tricky sweep lease first.
		if _, err := b.sweeps.SubmitSweep(context.Background(), submitRequest(t, y, "", int32(1-i))); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]map[string]string{
		"tricky": expandedSpecs(t, trickySweep), "huge": expandedSpecs(t, hugeSeed), "legacy": expandedSpecs(t, hugeSeed),
	}
	templated := func(b *bundle) (with, without int) {
		return b.c.Core().Queued()
	}
	if with, without := templated(b); with != 50 || without != 2 {
		t.Fatalf("%d queued trials with a template and %d without, want 50 and 2", with, without)
	}
	check := func(b *bundle, l *pb.Lease, attempt int32) {
		t.Helper()
		// Leases are written behind: wait for this one to be stored.
		stored := b.trial(t, l)
		for deadline := time.Now().Add(5 * time.Second); stored.LeaseToken != l.Token && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
			stored = b.trial(t, l)
		}
		if l.SpecJson != stored.SpecJson {
			t.Fatalf("trial %s: lease spec\n%s\nstored spec\n%s", l.TrialId, l.SpecJson, stored.SpecJson)
		}
		st, err := spec.DecodeTrial([]byte(l.SpecJson))
		if err != nil {
			t.Fatalf("trial %s: %v", l.TrialId, err)
		}
		if got := spec.ID(st); got != l.TrialId {
			t.Fatalf("trial %s: lease spec hashes to %s", l.TrialId, got)
		}
		if w := want[l.SweepId][l.TrialId]; l.SpecJson != w {
			t.Fatalf("trial %s/%s: lease spec\n%s\nexpanded spec\n%s", l.SweepId, l.TrialId, l.SpecJson, w)
		}
		if l.Attempt != attempt || stored.Attempt != attempt {
			t.Fatalf("trial %s: lease attempt %d, stored %d, want %d", l.TrialId, l.Attempt, stored.Attempt, attempt)
		}
	}
	w := b.register(t)
	var held []*pb.Lease
	for i := 0; i < 12; i++ {
		l := b.acquire(t, w)
		check(b, l, 1)
		held = append(held, l)
	}
	// A handed-back trial keeps its attempt count.
	back := held[0]
	if _, err := b.work.ReleaseTrial(context.Background(), &pb.ReleaseTrialRequest{
		WorkerId: w, SweepId: back.SweepId, TrialId: back.TrialId, Token: back.Token,
	}); err != nil {
		t.Fatal(err)
	}
	if again := b.acquire(t, w); again.TrialId != back.TrialId {
		t.Fatalf("re-leased %s, want the handed-back %s first", again.TrialId, back.TrialId)
	} else {
		check(b, again, 1)
	}
	b.stop()

	// After a restart the queues are rebuilt from the store.
	b2 := setup(t, path)
	if with, without := templated(b2); with != 50-12 || without != 2 {
		t.Fatalf("after the restart: %d queued trials with a template and %d without, want %d and 2", with, without, 50-12)
	}
	w2 := b2.register(t)
	n := 0
	seen := map[string]int{}
	for l := b2.acquire(t, w2); l != nil; l = b2.acquire(t, w2) {
		check(b2, l, 1)
		seen[l.SweepId]++
		n++
	}
	if n != 52-12 {
		t.Fatalf("%d trials leased after the restart, want %d", n, 52-12)
	}
	if seen["huge"] != 2 || seen["legacy"] != 2 {
		t.Fatalf("leased after the restart: %v, want both trials of huge and of legacy", seen)
	}
}

// largeSeedSweep has a seed beyond 2^53 (2^53 + 1), which a float64 rounds
// to its neighbour 2^53: a third of its 48 trials.
const largeSeedSweep = `name: large-seed
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid:
  batch_size: [8, 16, 32, 64]
  lr: [0.01, 0.03, 0.1, 0.3]
  seed: [1, 9007199254740993, 3]
`

// TestLargeSeedLeasedExactly is the regression test of seeds beyond 2^53
// that the stored form rounded (a seed of 2^53 + 1 was stored, leased and
// run as 2^53): every lease, and every spec the store rebuilds, is exactly
// the spec of its trial in the sweep's expansion and hashes to its ID.
func TestLargeSeedLeasedExactly(t *testing.T) {
	const big, rounded = int64(9007199254740993), int64(9007199254740992)
	b := setup(t, "")
	resp, err := b.sweeps.SubmitSweep(context.Background(), submitRequest(t, largeSeedSweep, "large-seed.yaml", 0))
	if err != nil {
		t.Fatal(err)
	}
	if resp.TrialsAdded != 48 {
		t.Fatalf("%d trials added, want 48", resp.TrialsAdded)
	}
	want := map[string]spec.Trial{}
	for _, tr := range sweeps.Expand(parseSweep(t, largeSeedSweep, "")) {
		want[tr.ID] = tr.Spec
	}
	if len(want) != 48 {
		t.Fatalf("the expansion has %d distinct trials, want 48", len(want))
	}
	// checkSpec checks one spec JSON of trial id and returns its seed.
	checkSpec := func(what, id, js string) int64 {
		t.Helper()
		st, err := spec.DecodeTrial([]byte(js))
		if err != nil {
			t.Fatalf("%s of %s: %v", what, id, err)
		}
		exp, ok := want[id]
		if !ok {
			t.Fatalf("%s: trial %s is not in the expansion", what, id)
		}
		if !reflect.DeepEqual(st, exp) || st.Seed != exp.Seed {
			t.Fatalf("%s of %s decodes to\n%+v\nwant the expanded spec\n%+v", what, id, st, exp)
		}
		if got := spec.ID(st); got != id {
			t.Fatalf("%s of %s hashes to %s", what, id, got)
		}
		return st.Seed
	}
	countSeeds := func(what string, seeds map[int64]int) {
		t.Helper()
		if seeds[big] != 16 || seeds[rounded] != 0 || seeds[1] != 16 || seeds[3] != 16 {
			t.Fatalf("%s: seeds %v, want 16 each of 1, %d and 3 (and none %d)", what, seeds, big, rounded)
		}
	}

	w := b.register(t)
	seeds := map[int64]int{}
	leased := map[string]bool{}
	for l := b.acquire(t, w); l != nil; l = b.acquire(t, w) {
		if leased[l.TrialId] {
			t.Fatalf("trial %s leased twice", l.TrialId)
		}
		leased[l.TrialId] = true
		seeds[checkSpec("lease spec", l.TrialId, l.SpecJson)]++
	}
	if len(leased) != 48 {
		t.Fatalf("%d trials leased, want 48", len(leased))
	}
	countSeeds("leases", seeds)

	// The specs the store rebuilds from its bases and axis values.
	seeds = map[int64]int{}
	q, err := b.sweeps.QueryResults(context.Background(), &pb.QueryResultsRequest{SweepId: "large-seed"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range q.Trials {
		seeds[checkSpec("stored spec", tr.Id, tr.SpecJson)]++
	}
	if len(q.Trials) != 48 {
		t.Fatalf("%d stored trials, want 48", len(q.Trials))
	}
	countSeeds("stored specs", seeds)
	seeds = map[int64]int{}
	if err := b.st.RawTrials("large-seed", func(tr *pb.Trial) bool {
		st, err := b.st.Spec(tr)
		if err != nil {
			t.Fatalf("trial %s: %v", tr.Id, err)
		}
		js, _ := spec.Canonical(st)
		seeds[checkSpec("store.Spec", tr.Id, string(js))]++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	countSeeds("store.Spec", seeds)
}
