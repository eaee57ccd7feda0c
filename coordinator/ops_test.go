package coordinator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// completeAll leases and completes every pending trial, giving each the
// test accuracy acc(lease).
func (b *bundle) completeAll(t *testing.T, w string, acc func(*pb.Lease) float64) int {
	t.Helper()
	n := 0
	for {
		l := b.acquire(t, w)
		if l == nil {
			return n
		}
		if _, err := b.complete(w, l, acc(l)); err != nil {
			t.Fatal(err)
		}
		n++
	}
}

// metricOf returns a group's summary of the named metric (nil if absent).
func metricOf(r *pb.AggregateResultsResponse, g *pb.ResultGroup, name string) *pb.MetricSummary {
	for i, n := range r.Metrics {
		if n == name && i < len(g.Metrics) && g.Metrics[i].Count > 0 {
			return g.Metrics[i]
		}
	}
	return nil
}

func TestAggregateResults(t *testing.T) {
	b := setup(t, "")
	b.submit(t) // batch_size {8, 16} × lr {0.1} × seed {1, 2}
	w := b.register(t)
	// Test accuracy = batch size / 100 + seed / 1000, from the trial's spec.
	n := b.completeAll(t, w, func(l *pb.Lease) float64 {
		st, err := spec.DecodeTrial([]byte(l.SpecJson))
		if err != nil {
			t.Fatal(err)
		}
		return float64(st.BatchSize)/100 + float64(st.Seed)/1000
	})
	if n != 4 {
		t.Fatalf("completed %d trials", n)
	}
	resp, err := b.sweeps.AggregateResults(context.Background(), &pb.AggregateResultsRequest{SweepId: "unit", GroupBy: []string{"batch_size"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 2 {
		t.Fatalf("%d groups, want 2", len(resp.Groups))
	}
	for i, bs := range []float64{8, 16} {
		g := resp.Groups[i]
		m := metricOf(resp, g, "test_acc")
		want := bs/100 + 0.0015
		if g.Key[0] != bs || g.Trials != 2 || g.Succeeded != 2 || m.Count != 2 {
			t.Fatalf("group %d: %+v", i, g)
		}
		// Two values 0.001 apart: std = 0.001/√2, 95 % interval = mean ± t(0.975, 1)·std/√2.
		std := 0.001 / math.Sqrt2
		half := 12.706204736174698 * std / math.Sqrt2
		const tol = 1e-12
		if math.Abs(m.Mean-want) > tol || math.Abs(m.Std-std) > tol || math.Abs(m.Min-(want-0.0005)) > tol ||
			math.Abs(m.Max-(want+0.0005)) > tol || math.Abs(m.Ci95Low-(want-half)) > 1e-9 || math.Abs(m.Ci95High-(want+half)) > 1e-9 {
			t.Fatalf("group %v test_acc = %+v, want mean %v std %v ±%v", bs, m, want, std, half)
		}
	}
	// A filter keeps one batch size; grouping by seed then splits it.
	resp, err = b.sweeps.AggregateResults(context.Background(), &pb.AggregateResultsRequest{
		SweepId: "unit", GroupBy: []string{"seed"}, Filters: []*pb.AxisFilter{{Axis: "batch_size", Values: []float64{16}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 2 || metricOf(resp, resp.Groups[0], "test_acc").Mean != 0.161 || metricOf(resp, resp.Groups[1], "test_acc").Mean != 0.162 {
		t.Fatalf("filtered groups: %v", resp.Groups)
	}
	// An exclusion drops that batch size: the groups by batch size are the
	// others.
	resp, err = b.sweeps.AggregateResults(context.Background(), &pb.AggregateResultsRequest{
		SweepId: "unit", GroupBy: []string{"batch_size"}, Exclude: []*pb.AxisFilter{{Axis: "batch_size", Values: []float64{16}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range resp.Groups {
		if g.Key[0] == 16 {
			t.Fatalf("excluded batch size 16 in the groups: %v", resp.Groups)
		}
	}
	if len(resp.Groups) == 0 {
		t.Fatal("exclusion left no group")
	}
	if _, err := b.sweeps.AggregateResults(context.Background(), &pb.AggregateResultsRequest{
		SweepId: "unit", Exclude: []*pb.AxisFilter{{Axis: "batch_size", Values: []float64{3}}}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("exclusion of a value no trial has: %v", err)
	}
	if _, err := b.sweeps.AggregateResults(context.Background(), &pb.AggregateResultsRequest{SweepId: "unit", GroupBy: []string{"colour"}}); err == nil {
		t.Fatal("unknown axis accepted")
	}
}

func TestAggregateCountsUnfinishedAndFailed(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	// Build the row cache first, so the transitions below must keep it current.
	if _, err := b.sweeps.AggregateResults(context.Background(), &pb.AggregateResultsRequest{SweepId: "unit"}); err != nil {
		t.Fatal(err)
	}
	w := b.register(t)
	l := b.acquire(t, w)
	if _, err := b.work.FailTrial(context.Background(), &pb.FailTrialRequest{WorkerId: w, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Error: "x"}); err != nil {
		t.Fatal(err)
	}
	l2 := b.acquire(t, w)
	if _, err := b.work.CompleteTrial(context.Background(), &pb.CompleteTrialRequest{WorkerId: w, SweepId: l2.SweepId, TrialId: l2.TrialId, Token: l2.Token,
		Result: &pb.TrialResult{Diverged: true, TestAcc: 0.25}}); err != nil {
		t.Fatal(err)
	}
	resp, err := b.sweeps.AggregateResults(context.Background(), &pb.AggregateResultsRequest{SweepId: "unit", GroupBy: []string{"lr"}})
	if err != nil {
		t.Fatal(err)
	}
	g := resp.Groups[0]
	if g.Trials != 4 || g.Failed != 1 || g.Succeeded != 1 || g.Diverged != 1 || g.Unfinished != 2 || metricOf(resp, g, "test_acc") != nil {
		t.Fatalf("group = %+v; want 4 trials, 1 failed, 1 diverged (no metrics), 2 unfinished", g)
	}
}

func TestHotBackup(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	w := b.register(t)
	first := b.acquire(t, w)
	if _, err := b.complete(w, first, 0.5); err != nil {
		t.Fatal(err)
	}
	// Back up while writes go on.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.completeAll(t, w, func(*pb.Lease) float64 { return 0.75 })
	}()
	var buf bytes.Buffer
	var size int64
	if err := b.st.Backup(func(n int64) { size = n }, &buf); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if int64(buf.Len()) != size {
		t.Fatalf("backup wrote %d bytes, announced %d", buf.Len(), size)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	tr, err := cp.GetTrial(first.SweepId, first.TrialId)
	if err != nil || tr.Result.GetTestAcc() != 0.5 {
		t.Fatalf("backup lacks the result recorded before it: %v %v", tr, err)
	}
	n := 0
	if err := cp.Trials("unit", "", func(*pb.Trial) bool { n++; return true }); err != nil || n != 4 {
		t.Fatalf("backup has %d trials (%v), want 4", n, err)
	}
}

func TestBackupOverGRPC(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	conn := b.conn
	stream, err := pb.NewAdminServiceClient(conn).BackupDatabase(context.Background(), &pb.BackupDatabaseRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	var want int64
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.Size > 0 {
			want = resp.Size
		}
		got.Write(resp.Chunk)
	}
	if want == 0 || int64(got.Len()) != want {
		t.Fatalf("streamed %d bytes, announced %d", got.Len(), want)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	w := b.register(t)
	b.completeAll(t, w, func(*pb.Lease) float64 { return 0.5 })
	srv := httptest.NewServer(b.c.MetricsHandler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`flatsweep_trials{state="succeeded"} 4`,
		`flatsweep_trials{state="pending"} 0`,
		`flatsweep_results_total 4`,
		`flatsweep_trial_transitions_total{from="pending",to="running"} 4`,
		`flatsweep_lease_acquire_seconds_count 4`,
		`flatsweep_workers 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestWorkerGaugeForgetsSilentWorkers(t *testing.T) {
	b := setup(t, "")
	b.register(t)
	b.register(t)
	gauge := func() string {
		srv := httptest.NewServer(b.c.MetricsHandler())
		defer srv.Close()
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "flatsweep_workers ") {
				return line
			}
		}
		return ""
	}
	if g := gauge(); g != "flatsweep_workers 2" {
		t.Fatalf("after two registrations: %q", g)
	}
	b.clock.Advance(31 * time.Second) // 3 TTLs + 1 s (TTL 10 s)
	b.c.Rescue()
	if g := gauge(); g != "flatsweep_workers 0" {
		t.Fatalf("after 3 silent TTLs: %q", g)
	}
	b.clock.Advance(70 * time.Second)
	b.c.Rescue()
	resp, err := b.sweeps.ListWorkers(context.Background(), &pb.ListWorkersRequest{})
	if err != nil || len(resp.Workers) != 0 {
		t.Fatalf("workers silent for 10 TTLs still listed: %v %v", resp, err)
	}
}

func TestWatchSweepStreamsUntilDone(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	stream, err := b.sweeps.WatchSweep(context.Background(), &pb.WatchSweepRequest{SweepId: "unit"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.Sweep.StateCounts["pending"] != 4 {
		t.Fatalf("first snapshot %v %v", first, err)
	}
	w := b.register(t)
	b.completeAll(t, w, func(*pb.Lease) float64 { return 0.5 })
	var last *pb.WatchSweepResponse
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		last = resp
	}
	if last == nil || last.Sweep.StateCounts["succeeded"] != 4 {
		t.Fatalf("last snapshot %v, want 4 succeeded", last)
	}
}

func TestStoredSpecsRebuildToTheirIDs(t *testing.T) {
	b := setup(t, "")
	b.submit(t)
	resp, err := b.sweeps.QueryResults(context.Background(), &pb.QueryResultsRequest{SweepId: "unit"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Trials) != 4 {
		t.Fatalf("%d trials, want 4", len(resp.Trials))
	}
	want := expandedSpecs(t, testSweep)
	for _, tr := range resp.Trials {
		st, err := spec.DecodeTrial([]byte(tr.SpecJson))
		if err != nil {
			t.Fatalf("trial %s: %v", tr.Id, err)
		}
		if got := spec.ID(st); got != tr.Id {
			t.Errorf("trial %s: spec rebuilt from base and axis values hashes to %s", tr.Id, got)
		}
		if tr.SpecJson != want[tr.Id] {
			t.Errorf("trial %s: rebuilt spec\n%s\nexpanded spec\n%s", tr.Id, tr.SpecJson, want[tr.Id])
		}
		if tr.BaseId == "" || len(tr.AxisValues) != 3 {
			t.Errorf("trial %s stored without a base and its 3 axis values: base %q, values %q", tr.Id, tr.BaseId, tr.AxisValues)
		}
	}
}
