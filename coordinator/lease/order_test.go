package lease

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"testing"

	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// leaseOrder submits a sweep of trials whose costs differ by their batch
// size to a fresh core and returns the leased trials' batch sizes and IDs,
// in the order they were leased.
func leaseOrder(t *testing.T, idOrder bool) (bs []int, ids []string) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := New(st, Config{IDOrder: idOrder, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const y = `name: o
dataset: {name: synthetic, n: 1024, n_test: 16}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid: {batch_size: [16, 64, 8, 256, 32], lr: [0.1], seed: [1, 2, 3]}
`
	s, err := sweeps.Parse([]byte(y), "o.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(s, y, 0); err != nil {
		t.Fatal(err)
	}
	w, err := c.Register("w", 1, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for {
		l, _, err := c.TryAcquire(w)
		if err != nil {
			t.Fatal(err)
		}
		if l == nil {
			return bs, ids
		}
		var tr spec.Trial
		if err := json.Unmarshal([]byte(l.SpecJson), &tr); err != nil {
			t.Fatal(err)
		}
		bs = append(bs, tr.BatchSize)
		ids = append(ids, l.TrialId)
	}
}

// TestCostOrderLongestFirst: by default the trials with the most updates
// (the smallest batch sizes, at equal epochs) are leased first; with
// IDOrder they are leased in trial-ID order, whatever their cost.
func TestCostOrderLongestFirst(t *testing.T) {
	bs, _ := leaseOrder(t, false)
	if len(bs) != 15 {
		t.Fatalf("%d leases, want 15", len(bs))
	}
	if !sort.IntsAreSorted(bs) {
		t.Errorf("cost order leased batch sizes %v, want increasing (longest first)", bs)
	}
	bs, ids := leaseOrder(t, true)
	if !sort.StringsAreSorted(ids) {
		t.Errorf("ID order leased trials %v, want sorted by ID", ids)
	}
	if sort.IntsAreSorted(bs) {
		t.Errorf("ID order leased batch sizes %v in cost order", bs)
	}
}

// TestPopReleasesTrials: a popped trial is no longer referenced by the
// queue's backing array, so a sweep whose trials have all been leased holds
// none of them in memory.
func TestPopReleasesTrials(t *testing.T) {
	s := newSweepState("s", false)
	var ps []*pendingTrial
	for i := range 100 {
		ps = append(ps, &pendingTrial{key: Key{"s", fmt.Sprint(i)}, feat: [2]float64{float64(i), 1}})
	}
	s.pushAll(ps)
	for range ps {
		s.pop()
	}
	for i, p := range s.queue[:cap(s.queue)] {
		if p != nil {
			t.Fatalf("queue slot %d still references trial %s after every pop", i, p.key.Trial)
		}
	}
}
