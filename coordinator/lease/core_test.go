package lease

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// fakeClock is a Clock the test moves by hand: lease logic never sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is an Observer that keeps the transitions it hears about.
type recorder struct {
	mu      sync.Mutex
	changes []string
	sweeps  []string
}

func (r *recorder) Transitioned(k Key, from pb.TrialState, t *pb.Trial) {
	r.mu.Lock()
	r.changes = append(r.changes, store.StateName(from)+"→"+store.StateName(t.State))
	r.mu.Unlock()
}

func (r *recorder) Changed(sweep string) {
	r.mu.Lock()
	r.sweeps = append(r.sweeps, sweep)
	r.mu.Unlock()
}

// bundle is a core over a fresh store with a fake clock.
type bundle struct {
	core  *Core
	clock *fakeClock
	obs   *recorder
	path  string
	st    *store.Store
}

const sweepYAML = `name: s
dataset: {name: synthetic, n: 64, n_test: 16}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid: {batch_size: [8], lr: [0.1], seed: [1, 2]}
`

func setup(t *testing.T, maxAttempts int) *bundle {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &bundle{clock: &fakeClock{t: time.Unix(1_700_000_000, 0)}, obs: &recorder{}, path: path, st: st}
	b.core, err = New(st, Config{LeaseTTL: 10 * time.Second, MaxAttempts: maxAttempts, BackoffBase: time.Second,
		Clock: b.clock, Observer: b.obs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sweeps.Parse([]byte(sweepYAML), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.core.Submit(s, sweepYAML, 0)
	if err != nil || !out.Created || out.Added != 2 {
		t.Fatalf("submit: %+v, %v", out, err)
	}
	return b
}

func (b *bundle) worker(t *testing.T) string {
	t.Helper()
	id, err := b.core.Register("w", 1, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (b *bundle) acquire(t *testing.T, w string) *pb.Lease {
	t.Helper()
	l, _, err := b.core.TryAcquire(w)
	if err != nil || l == nil {
		t.Fatalf("acquire: %v, %v", l, err)
	}
	return l
}

func (b *bundle) state(t *testing.T, l *pb.Lease) *pb.Trial {
	t.Helper()
	tr, err := b.st.GetTrial(l.SweepId, l.TrialId)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func key(l *pb.Lease) Key { return Key{l.SweepId, l.TrialId} }

func result(acc float64) *pb.TrialResult { return &pb.TrialResult{TestAcc: acc, DurationSeconds: 1} }

// TestLeaseLifecycle: a lease is renewed and recorded only under its token,
// once; a repeat is a duplicate and a different result a conflict.
func TestLeaseLifecycle(t *testing.T) {
	b := setup(t, 3)
	w := b.worker(t)
	l := b.acquire(t, w)
	if l.Attempt != 1 || l.SpecJson == "" {
		t.Fatalf("lease %+v", l)
	}
	if _, err := spec.DecodeTrial([]byte(l.SpecJson)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.core.Heartbeat(w, key(l), "wrong", nil); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("heartbeat with a wrong token: %v", err)
	}
	exp, err := b.core.Heartbeat(w, key(l), l.Token, []*pb.EpochMetrics{{Epoch: 1, TrainLoss: 1}})
	if err != nil || !exp.Equal(b.clock.Now().Add(10*time.Second)) {
		t.Fatalf("heartbeat: %v, %v", exp, err)
	}
	if _, err := b.core.Complete(w, key(l), "wrong", result(0.5)); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("complete with a wrong token: %v", err)
	}
	if _, err := b.core.Complete(w, key(l), l.Token, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("complete without a result: %v", err)
	}
	if dup, err := b.core.Complete(w, key(l), l.Token, result(0.5)); err != nil || dup {
		t.Fatalf("complete: %v, duplicate %v", err, dup)
	}
	if dup, err := b.core.Complete(w, key(l), l.Token, result(0.5)); err != nil || !dup {
		t.Fatalf("repeated complete: %v, duplicate %v", err, dup)
	}
	if _, err := b.core.Complete(w, key(l), l.Token, result(0.9)); !errors.Is(err, ErrConflict) {
		t.Fatalf("different result: %v", err)
	}
	if tr := b.state(t, l); tr.State != pb.TrialState_TRIAL_STATE_SUCCEEDED || tr.Result.TestAcc != 0.5 {
		t.Fatalf("stored %v %v", tr.State, tr.Result)
	}
	if _, err := b.core.Heartbeat(w, key(l), l.Token, nil); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("heartbeat after the result: %v", err)
	}
}

// TestExpiryRescueAndDiscard: an expired lease is refused at once, the
// rescuer returns the trial to pending, and after MaxAttempts expiries it
// is discarded.
func TestExpiryRescueAndDiscard(t *testing.T) {
	b := setup(t, 2)
	w := b.worker(t)
	l := b.acquire(t, w)
	b.clock.advance(11 * time.Second)
	b.core.Rescue()
	if tr := b.state(t, l); tr.State != pb.TrialState_TRIAL_STATE_PENDING || tr.LastError == "" {
		t.Fatalf("after expiry: %v %q", tr.State, tr.LastError)
	}
	if _, err := b.core.Complete(w, key(l), l.Token, result(0.5)); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("late result: %v", err)
	}
	var again *pb.Lease
	for again == nil || again.TrialId != l.TrialId {
		again = b.acquire(t, w)
	}
	if again.Attempt != 2 {
		t.Fatalf("second attempt %d", again.Attempt)
	}
	b.clock.advance(11 * time.Second)
	b.core.Rescue()
	if tr := b.state(t, again); tr.State != pb.TrialState_TRIAL_STATE_DISCARDED {
		t.Fatalf("after %d expiries: %v", 2, tr.State)
	}
}

// TestFailRetryBackoff: a failed attempt waits out its backoff before it is
// pending again; the last allowed attempt's failure discards the trial.
func TestFailRetryBackoff(t *testing.T) {
	b := setup(t, 2)
	w := b.worker(t)
	l := b.acquire(t, w)
	st, err := b.core.Fail(w, key(l), l.Token, "boom", false)
	if err != nil || st != pb.TrialState_TRIAL_STATE_FAILED {
		t.Fatalf("fail: %v, %v", st, err)
	}
	if _, err := b.core.Fail(w, key(l), l.Token, "again", false); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("second fail under the same token: %v", err)
	}
	tr := b.state(t, l)
	if tr.LastError != "boom" || tr.RetryTime == nil {
		t.Fatalf("stored %+v", tr)
	}
	wait := tr.RetryTime.AsTime().Sub(b.clock.Now())
	if wait < 500*time.Millisecond || wait > time.Second {
		t.Fatalf("backoff %v, want within [0.5s, 1s] for the first attempt", wait)
	}
	b.core.Rescue() // not due yet
	if tr := b.state(t, l); tr.State != pb.TrialState_TRIAL_STATE_FAILED {
		t.Fatalf("before the backoff: %v", tr.State)
	}
	b.clock.advance(time.Second)
	b.core.Rescue()
	if tr := b.state(t, l); tr.State != pb.TrialState_TRIAL_STATE_PENDING {
		t.Fatalf("after the backoff: %v", tr.State)
	}
	var again *pb.Lease
	for again == nil || again.TrialId != l.TrialId {
		again = b.acquire(t, w)
	}
	if st, err := b.core.Fail(w, key(again), again.Token, "boom", false); err != nil || st != pb.TrialState_TRIAL_STATE_DISCARDED {
		t.Fatalf("last attempt: %v, %v", st, err)
	}
}

// TestReleaseDoesNotCountTheAttempt: a handed-back trial is pending again
// and its next lease has the same attempt number.
func TestReleaseDoesNotCountTheAttempt(t *testing.T) {
	b := setup(t, 3)
	w := b.worker(t)
	l := b.acquire(t, w)
	if err := b.core.Release(w, key(l), "wrong"); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("release with a wrong token: %v", err)
	}
	if err := b.core.Release(w, key(l), l.Token); err != nil {
		t.Fatal(err)
	}
	if tr := b.state(t, l); tr.State != pb.TrialState_TRIAL_STATE_PENDING || tr.Attempt != 0 {
		t.Fatalf("after release: %v attempt %d", tr.State, tr.Attempt)
	}
	for {
		again := b.acquire(t, w)
		if again.TrialId == l.TrialId {
			if again.Attempt != 1 {
				t.Fatalf("attempt %d after a hand-back", again.Attempt)
			}
			break
		}
	}
}

// TestCancelAndPause: a paused sweep leases nothing until resumed; a
// cancelled sweep's running lease is lost and its pending trials cancelled.
func TestCancelAndPause(t *testing.T) {
	b := setup(t, 3)
	w := b.worker(t)
	if _, err := b.core.Pause("s"); err != nil {
		t.Fatal(err)
	}
	if l, _, err := b.core.TryAcquire(w); l != nil || err != nil {
		t.Fatalf("paused sweep leased %v, %v", l, err)
	}
	if _, err := b.core.Resume("s"); err != nil {
		t.Fatal(err)
	}
	l := b.acquire(t, w)
	sw, err := b.core.Cancel("s")
	if err != nil || !sw.Cancelled || sw.StateCounts["cancelled"] != 2 {
		t.Fatalf("cancel: %+v, %v", sw, err)
	}
	if _, err := b.core.Heartbeat(w, key(l), l.Token, nil); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("heartbeat after cancel: %v", err)
	}
	if l, _, err := b.core.TryAcquire(w); l != nil || err != nil {
		t.Fatalf("cancelled sweep leased %v, %v", l, err)
	}
	if _, _, done, _ := b.core.Progress("s"); !done {
		t.Error("a cancelled sweep is not done")
	}
	if len(b.obs.sweeps) < 2 {
		t.Errorf("observer heard of %v bulk changes, want the submission and the cancellation", b.obs.sweeps)
	}
}

// TestResumeReopensCancelledSweep: cancel, a resubmission with more seeds,
// then resume runs every trial without a result — the cancelled ones and the
// new ones — while a result for a lease the cancel ended stays refused; a
// restarted core sees the reopened sweep.
func TestResumeReopensCancelledSweep(t *testing.T) {
	b := setup(t, 3)
	w := b.worker(t)
	old := b.acquire(t, w)
	if _, err := b.core.Cancel("s"); err != nil {
		t.Fatal(err)
	}
	more, err := sweeps.Parse([]byte(strings.Replace(sweepYAML, "seed: [1, 2]", "seed: [1, 2, 3, 4]", 1)), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.core.Submit(more, sweepYAML, 0)
	if err != nil || out.Added != 2 || !out.Sweep.Cancelled {
		t.Fatalf("resubmit to a cancelled sweep: %+v, %v", out, err)
	}
	if l, _, err := b.core.TryAcquire(w); l != nil || err != nil {
		t.Fatalf("cancelled sweep leased %v, %v", l, err)
	}
	sw, err := b.core.Resume("s")
	if err != nil {
		t.Fatal(err)
	}
	if sw.Cancelled || sw.Paused || sw.StateCounts["pending"] != 4 || sw.StateCounts["cancelled"] != 0 {
		t.Fatalf("after resume: cancelled %v paused %v counts %v, want 4 pending", sw.Cancelled, sw.Paused, sw.StateCounts)
	}
	if _, err := b.core.Complete(w, key(old), old.Token, result(0.5)); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("result for the lease the cancel ended: %v, want ErrLeaseLost", err)
	}
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		l := b.acquire(t, w)
		seen[l.TrialId] = true
		if _, err := b.core.Complete(w, key(l), l.Token, result(0.5)); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 4 || !seen[old.TrialId] {
		t.Fatalf("leased %v after resume, want the 4 trials including %s", seen, old.TrialId)
	}
	if _, _, done, _ := b.core.Progress("s"); !done {
		t.Error("the reopened sweep is not done after its 4 trials")
	}
	again, err := New(b.st, Config{Clock: b.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if sw, err := again.Sweep("s"); err != nil || sw.Cancelled || sw.StateCounts["succeeded"] != 4 {
		t.Fatalf("restarted core: %+v, %v", sw, err)
	}
}

// TestTypedErrors: an unknown worker, an invalid sweep and an unknown sweep
// are reported as such.
func TestTypedErrors(t *testing.T) {
	b := setup(t, 3)
	if _, _, err := b.core.TryAcquire("w-nobody"); !errors.Is(err, ErrUnknownWorker) {
		t.Errorf("unknown worker: %v", err)
	}
	if _, err := b.core.Register("w", 0, nil, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero slots: %v", err)
	}
	if _, err := b.core.Submit(spec.Sweep{Name: "Bad Name"}, "", 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid sweep: %v", err)
	}
	if _, err := b.core.Cancel("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown sweep: %v", err)
	}
	mnist := spec.Sweep{Name: "m", Dataset: spec.Dataset{Name: spec.DatasetMNIST, Dir: "d", N: 10, NTest: 10},
		Model: spec.Model{Arch: spec.ArchMLP, Hidden: []int{2}}, Train: spec.Train{Epochs: 1},
		Grid: spec.Grid{BatchSize: []int{1}, LR: []float64{0.1}, Seed: []int64{1}}}
	if _, err := b.core.Submit(mnist, "", 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("file dataset without a digest: %v", err)
	}
}

// TestAcquireWaitsAndGivesUp: a long-poll wakes when a trial becomes pending
// and, when its caller gives up, leases nothing.
func TestAcquireWaitsAndGivesUp(t *testing.T) {
	b := setup(t, 3)
	w := b.worker(t)
	first, second := b.acquire(t, w), b.acquire(t, w)
	got := make(chan *pb.Lease, 1)
	go func() {
		l, err := b.core.Acquire(context.Background(), w, 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	time.Sleep(20 * time.Millisecond) // let it wait (a missed wake would time out the test)
	if err := b.core.Release(w, key(first), first.Token); err != nil {
		t.Fatal(err)
	}
	if l := <-got; l == nil || l.TrialId != first.TrialId {
		t.Fatalf("woken acquire got %v", l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if l, err := b.core.Acquire(ctx, w, time.Second); l != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled acquire: %v, %v", l, err)
	}
	if err := b.core.Release(w, key(second), second.Token); err != nil {
		t.Fatal(err)
	}
	if l, err := b.core.Acquire(ctx, w, time.Second); l != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire cancelled while a trial is pending: %v, %v", l, err)
	}
	if tr := b.state(t, second); tr.State != pb.TrialState_TRIAL_STATE_PENDING {
		t.Fatalf("the lease a cancelled caller got was not handed back: %v", tr.State)
	}
}

// TestRestartKeepsLeases: a new core over the same store keeps a running
// lease (with a fresh TTL), so its worker's result is still accepted.
func TestRestartKeepsLeases(t *testing.T) {
	b := setup(t, 3)
	w := b.worker(t)
	l := b.acquire(t, w)
	if _, err := b.core.Heartbeat(w, key(l), l.Token, nil); err != nil { // makes the lease durable
		t.Fatal(err)
	}
	c2, err := New(b.st, Config{LeaseTTL: 10 * time.Second, Clock: b.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if dup, err := c2.Complete(w, key(l), l.Token, result(0.7)); err != nil || dup {
		t.Fatalf("result after a restart: %v, %v", dup, err)
	}
	if got := b.obs.changes; len(got) != 1 || got[0] != "pending→running" {
		t.Errorf("the first core's observer heard %v, want the lease only (the heartbeat changes no state)", got)
	}
}

// TestAttemptLog: every attempt is logged with its worker, its start and end
// and how it ended — failed with its reason, handed back, expired,
// succeeded — in order.
func TestAttemptLog(t *testing.T) {
	b := setup(t, 5)
	w := b.worker(t)
	l := b.acquire(t, w)
	if _, err := b.core.Fail(w, key(l), l.Token, "boom", false); err != nil {
		t.Fatal(err)
	}
	b.clock.advance(time.Minute)
	b.core.Rescue() // the retry is due
	var again *pb.Lease
	for again == nil || again.TrialId != l.TrialId {
		again = b.acquire(t, w)
		if again.TrialId != l.TrialId {
			if err := b.core.Release(w, key(again), again.Token); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.core.Release(w, key(again), again.Token); err != nil {
		t.Fatal(err)
	}
	third := b.acquire(t, w)
	for third.TrialId != l.TrialId {
		third = b.acquire(t, w)
	}
	b.clock.advance(11 * time.Second) // past the TTL: the lease expires
	b.core.Rescue()
	last := b.acquire(t, w)
	for last.TrialId != l.TrialId {
		last = b.acquire(t, w)
	}
	if _, err := b.core.Complete(w, key(last), last.Token, result(0.5)); err != nil {
		t.Fatal(err)
	}
	tr := b.state(t, l)
	var got []string
	for _, a := range tr.Attempts {
		if a.WorkerId != w || a.StartTime == nil || a.EndTime == nil || a.EndTime.AsTime().Before(a.StartTime.AsTime()) {
			t.Errorf("attempt %+v: worker or times missing", a)
		}
		got = append(got, fmt.Sprintf("%d %s %s", a.Attempt, a.Outcome, a.Error))
	}
	want := []string{"1 failed boom", "2 handed back ", "2 lease expired lease expired (worker " + w + " stopped heartbeating)", "3 succeeded "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("attempt log\n got %q\nwant %q", got, want)
	}
}
