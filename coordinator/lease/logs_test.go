package lease

import (
	"errors"
	"strings"
	"testing"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/sweeps"
)

// TestLogsStoredWithReports: an attempt's log is stored with its failure or
// result, under the attempt the report ends; a refused report stores
// neither; an oversized log is refused.
func TestLogsStoredWithReports(t *testing.T) {
	b := setup(t, 3)
	w := b.worker(t)
	l := b.acquire(t, w)
	k := key(l)
	if _, err := b.core.FailWithLog(w, k, l.Token, "boom", false, &pb.CommandLog{Stderr: []byte("trace\n"), ExitCode: 2, Outcome: "boom"}); err != nil {
		t.Fatal(err)
	}
	b.clock.advance(2 * b.core.cfg.BackoffBase)
	b.core.Rescue()
	l2 := b.acquire(t, w)
	for l2.TrialId != l.TrialId { // the other trial first: finish it without a log
		if _, err := b.core.Complete(w, key(l2), l2.Token, result(0.5)); err != nil {
			t.Fatal(err)
		}
		l2 = b.acquire(t, w)
	}
	// Refused: a curve that is not valid; nothing of the report is stored.
	bad := result(0.5)
	bad.Curve = []*pb.EpochMetrics{{Epoch: 2}, {Epoch: 2}}
	if _, err := b.core.CompleteWithLog(w, k, l2.Token, bad, &pb.CommandLog{Stdout: []byte("x")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid result: %v", err)
	}
	huge := &pb.CommandLog{Stdout: make([]byte, DefaultMaxLogBytes+1)}
	if _, err := b.core.CompleteWithLog(w, k, l2.Token, result(0.5), huge); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "log.stdout") {
		t.Fatalf("oversized log: %v", err)
	}
	logs, err := b.core.Logs(k, 0)
	if err != nil || len(logs) != 1 || logs[0].Attempt != 1 || string(logs[0].Stderr) != "trace\n" || logs[0].ExitCode != 2 {
		t.Fatalf("after the refusals: %v, %v; want attempt 1's log alone", logs, err)
	}
	if _, err := b.core.CompleteWithLog(w, k, l2.Token, result(0.7), &pb.CommandLog{Stdout: []byte("done\n"), Outcome: "succeeded"}); err != nil {
		t.Fatal(err)
	}
	logs, err = b.core.Logs(k, 0)
	if err != nil || len(logs) != 2 || logs[1].Attempt != 2 || string(logs[1].Stdout) != "done\n" {
		t.Fatalf("logs %v, %v; want attempts 1 and 2", logs, err)
	}
	if one, err := b.core.Logs(k, 2); err != nil || len(one) != 1 || one[0].Outcome != "succeeded" {
		t.Errorf("attempt 2 alone: %v, %v", one, err)
	}
	if _, err := b.core.Logs(Key{"s", "t-none"}, 0); err == nil {
		t.Error("logs of an unknown trial: no error")
	}
}

// TestCapabilitiesMatchSweeps: command sweeps are leased only to workers
// that run commands, and those needing GPUs only to workers with enough.
func TestCapabilitiesMatchSweeps(t *testing.T) {
	b := setup(t, 3)
	const cmdYAML = `name: c
dataset: {name: synthetic, n: 64, n_test: 16}
train: {epochs: 1}
command: {argv: [train, "{lr}"], gpus: 2}
grid: {batch_size: [8], lr: [0.1], seed: [1]}
`
	s, err := sweeps.Parse([]byte(cmdYAML), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.core.Submit(s, cmdYAML, 10); err != nil { // higher priority than sweep s
		t.Fatal(err)
	}
	lease := func(caps Capabilities) string {
		t.Helper()
		id, err := b.core.RegisterWith("w", 1, nil, caps, "")
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := b.core.TryAcquire(id)
		if err != nil || l == nil {
			t.Fatalf("acquire: %v, %v", l, err)
		}
		return l.SweepId
	}
	if got := lease(Capabilities{GPUs: 8}); got != "s" {
		t.Errorf("a worker without --allow-commands got a trial of %q, want s", got)
	}
	if got := lease(Capabilities{GPUs: 1, Commands: true}); got != "s" {
		t.Errorf("a worker with 1 GPU got a trial of %q, want s (c needs 2)", got)
	}
	if got := lease(Capabilities{GPUs: 2, Commands: true}); got != "c" {
		t.Errorf("a worker with 2 GPUs got a trial of %q, want c (priority 10)", got)
	}
	if _, err := b.core.RegisterWith("w", 1, nil, Capabilities{GPUs: -1}, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative GPUs: %v", err)
	}
}

// TestLogAttempt: the log of an attempt that ended without a report is
// taken once, from the worker that ran it, after the attempt ended.
func TestLogAttempt(t *testing.T) {
	b := setup(t, 3)
	w, other := b.worker(t), b.worker(t)
	l := b.acquire(t, w)
	k := key(l)
	log := func(out string) *pb.CommandLog { return &pb.CommandLog{Attempt: 1, Stdout: []byte(out)} }
	if err := b.core.LogAttempt(w, k, log("early")); !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("log of a running attempt: %v", err)
	}
	if _, err := b.core.Cancel("s"); err != nil {
		t.Fatal(err)
	}
	if err := b.core.LogAttempt(other, k, log("not mine")); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("log from another worker: %v", err)
	}
	if err := b.core.LogAttempt(w, k, &pb.CommandLog{Attempt: 2}); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("log of an attempt never made: %v", err)
	}
	if err := b.core.LogAttempt(w, k, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("no log: %v", err)
	}
	for _, out := range []string{"first", "second"} {
		if err := b.core.LogAttempt(w, k, log(out)); err != nil {
			t.Fatal(err)
		}
	}
	logs, err := b.core.Logs(k, 1)
	if err != nil || len(logs) != 1 || string(logs[0].Stdout) != "first" || logs[0].WorkerId != w {
		t.Errorf("stored %v, %v; want the first upload alone, from %s", logs, err, w)
	}
}

// TestSlotsMatchSweeps: a trial occupying 4 slots (command.slots) is leased
// only to a worker reporting at least 4 free slots. 1-slot trials go to a
// worker that can never fit it and to a worker that reports no count (an
// older one, taken to have one slot), but not, while the 4-slot sweep of
// higher priority waits, to a worker that could fit it once its slots are
// free. The skipped trial stays queued and is leased later, also by a core
// restarted from the store.
func TestSlotsMatchSweeps(t *testing.T) {
	b := setup(t, 3)
	const bigYAML = `name: big
dataset: {name: synthetic, n: 64, n_test: 16}
train: {epochs: 1}
command: {argv: [train, "{lr}"], slots: 4}
grid: {batch_size: [8], lr: [0.1, 0.2], seed: [1]}
`
	s, err := sweeps.Parse([]byte(bigYAML), "big.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.core.Submit(s, bigYAML, 10); err != nil { // higher priority than sweep s
		t.Fatal(err)
	}
	register := func(slots int32) string {
		t.Helper()
		id, err := b.core.RegisterWith("w", slots, nil, Capabilities{Commands: true}, "")
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	w8, w2 := register(8), register(2)
	lease := func(w string, free int32) string {
		t.Helper()
		l, _, err := b.core.TryAcquireSlots(w, free)
		if err != nil {
			t.Fatal(err)
		}
		if l == nil {
			return ""
		}
		return l.SweepId
	}
	for i, c := range []struct {
		w    string
		free int32
		want string
	}{
		{w8, 3, ""},    // big waits for a fourth slot: s does not take the three
		{w2, 2, "s"},   // a worker that can never run big: s flows around it
		{w8, 0, "s"},   // an older worker: one slot, no reservation
		{w8, 3, ""},    // s is exhausted; big is skipped, not lost
		{w2, 2, ""},    // still skipped
		{w8, 4, "big"}, // leased to a worker with 4 free
	} {
		if got := lease(c.w, c.free); got != c.want {
			t.Fatalf("acquire %d with %d free slots: got a trial of %q, want %q", i, c.free, got, c.want)
		}
	}
	// The core restarted from the store still knows that big needs 4.
	b.core, err = New(b.st, b.core.cfg)
	if err != nil {
		t.Fatal(err)
	}
	w8, w2 = register(8), register(2)
	// (Leases are written behind: the old core's may not have reached the
	// store, so s may have trials pending again.)
	for got := lease(w2, 2); got != ""; got = lease(w2, 2) {
		if got != "s" {
			t.Fatalf("after a restart, a 2-slot worker got a trial of %q, want s or none", got)
		}
	}
	if got := lease(w8, 8); got != "big" {
		t.Errorf("after a restart, 8 free slots got a trial of %q, want big", got)
	}
}

// TestSlotsEqualPriorityFlow: a 1-slot sweep of the same priority as a
// waiting 4-slot one still takes a worker's free slots (no reservation
// between equals).
func TestSlotsEqualPriorityFlow(t *testing.T) {
	b := setup(t, 3)
	const bigYAML = `name: big
dataset: {name: synthetic, n: 64, n_test: 16}
train: {epochs: 1}
command: {argv: [train, "{lr}"], slots: 4}
grid: {batch_size: [8], lr: [0.1], seed: [1]}
`
	s, err := sweeps.Parse([]byte(bigYAML), "big.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.core.Submit(s, bigYAML, 0); err != nil {
		t.Fatal(err)
	}
	w, err := b.core.RegisterWith("w", 8, nil, Capabilities{Commands: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"s", "s", ""} {
		l, _, err := b.core.TryAcquireSlots(w, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.GetSweepId(); got != want {
			t.Fatalf("acquire %d with 2 free slots: got a trial of %q, want %q", i, got, want)
		}
	}
}

// TestSlotsAndGPUs: a trial needing 2 GPUs and 2 slots goes only to a
// worker with both: enough free slots without the GPUs, or the GPUs
// without the free slots, gets the other sweep's trials.
func TestSlotsAndGPUs(t *testing.T) {
	b := setup(t, 3)
	const gpuYAML = `name: g
dataset: {name: synthetic, n: 64, n_test: 16}
train: {epochs: 1}
command: {argv: [train, "{lr}"], gpus: 2, slots: 2}
grid: {batch_size: [8], lr: [0.1], seed: [1]}
`
	s, err := sweeps.Parse([]byte(gpuYAML), "g.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.core.Submit(s, gpuYAML, 10); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		slots, gpus, free int32
		want              string
	}{
		{8, 1, 8, "s"}, // free slots, too few GPUs
		{1, 2, 1, "s"}, // the GPUs, but one slot in all
		{4, 2, 2, "g"},
	} {
		w, err := b.core.RegisterWith("w", c.slots, nil, Capabilities{GPUs: c.gpus, Commands: true}, "")
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := b.core.TryAcquireSlots(w, c.free)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.GetSweepId(); got != c.want {
			t.Errorf("worker %d (%d slots, %d GPUs, %d free): got a trial of %q, want %q", i, c.slots, c.gpus, c.free, got, c.want)
		}
	}
}
