package coordinator

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/gctune"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/worker"
)

// benchSweep returns a sweep file with about n trials (n rounded to a
// product of three axes).
func benchSweep(name string, nb, nlr, nseed int) string {
	axis := func(n int, f func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = f(i)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprintf(`name: %s
dataset: {name: synthetic, n: 100000, n_test: 10, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid:
  batch_size: %s
  lr: %s
  seed: %s
`, name,
		axis(nb, func(i int) string { return fmt.Sprint(i + 1) }),
		axis(nlr, func(i int) string { return fmt.Sprintf("%g", float64(i+1)/1000) }),
		axis(nseed, func(i int) string { return fmt.Sprint(i + 1) }))
}

// heapFloor is the heap goal floor the benchmarks keep (see
// internal/gctune), `flatsweep coordinator`'s default unless set with
// -args -heap-floor-mib N (0: Go's default pacing).
var heapFloor = flag.Int("heap-floor-mib", gctune.DefaultFloor>>20, "heap goal floor in MiB for the coordinator benchmarks (0: Go's default)")

// benchServer serves a coordinator on loopback with a durable store, with
// the garbage collector tuned as `flatsweep coordinator` tunes it.
func benchServer(b *testing.B) (string, *Coordinator) {
	b.Helper()
	b.Cleanup(gctune.Floor(uint64(*heapFloor) << 20))
	st, err := store.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	// A coordinator under this load would log at warn: per-trial info lines
	// are not what is measured.
	c, err := New(st, Config{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Serve(ctx, lis) }()
	b.Cleanup(func() { cancel(); <-done; st.Close() })
	return lis.Addr().String(), c
}

// BenchmarkLeaseCycle measures acquire → complete cycles of no-op trials
// through one coordinator with 64 concurrent worker slots (8 workers of 8
// slots, a connection and a worker.Session stream each, as `flatsweep
// worker` runs them) over loopback gRPC, each result durable in bbolt before
// it is acknowledged. The slots cycle as fast as they can (a closed loop: the
// coordinator is saturated, and by Little's law a cycle then takes 64 /
// throughput). It reports cycles/s and the p50/p99 latency of AcquireTrial
// as the slot sees it, from sending the call to holding the lease.
func BenchmarkLeaseCycle(b *testing.B) { benchLeaseCycle(b, 0, sessionCalls) }

// BenchmarkLeaseCyclePaced is BenchmarkLeaseCycle with the 64 slots paced to
// 5,000 cycles/s in all: the acquire latency a cluster sees at that rate.
func BenchmarkLeaseCyclePaced(b *testing.B) { benchLeaseCycle(b, 5000, sessionCalls) }

// BenchmarkLeaseCycleUnary is BenchmarkLeaseCycle with unary AcquireTrial
// and CompleteTrial calls instead of a session stream.
func BenchmarkLeaseCycleUnary(b *testing.B) { benchLeaseCycle(b, 0, unaryCalls) }

// BenchmarkLeaseCyclePacedUnary is BenchmarkLeaseCyclePaced with unary calls.
func BenchmarkLeaseCyclePacedUnary(b *testing.B) { benchLeaseCycle(b, 5000, unaryCalls) }

// leaseCalls are the two calls of a lease cycle.
type leaseCalls interface {
	AcquireTrial(context.Context, *pb.AcquireTrialRequest) (*pb.AcquireTrialResponse, error)
	CompleteTrial(context.Context, *pb.CompleteTrialRequest) (*pb.CompleteTrialResponse, error)
}

// unary makes the calls of a lease cycle as unary RPCs.
type unary struct{ c pb.WorkerServiceClient }

func (u unary) AcquireTrial(ctx context.Context, r *pb.AcquireTrialRequest) (*pb.AcquireTrialResponse, error) {
	return u.c.AcquireTrial(ctx, r)
}

func (u unary) CompleteTrial(ctx context.Context, r *pb.CompleteTrialRequest) (*pb.CompleteTrialResponse, error) {
	return u.c.CompleteTrial(ctx, r)
}

func unaryCalls(_ *testing.B, c pb.WorkerServiceClient) leaseCalls { return unary{c} }

func sessionCalls(b *testing.B, c pb.WorkerServiceClient) leaseCalls {
	s := worker.NewSession(context.Background(), c, nil)
	b.Cleanup(s.Close)
	return s
}

func benchLeaseCycle(b *testing.B, rate float64, calls func(*testing.B, pb.WorkerServiceClient) leaseCalls) {
	// 64 slots on 8 worker processes of 8 slots each: one connection and one
	// registration per worker, as on a cluster.
	const slots, workers = 64, 8
	addr, _ := benchServer(b)
	ctx := context.Background()
	wcs := make([]leaseCalls, workers)
	ids := make([]string, workers)
	for i := range wcs {
		conn, err := grpc.NewClient(addr, append(DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		wc := pb.NewWorkerServiceClient(conn)
		wcs[i] = calls(b, wc)
		reg, err := wc.RegisterWorker(ctx, &pb.RegisterWorkerRequest{Name: fmt.Sprint("bench-", i), Slots: slots / workers})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = reg.WorkerId
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	sc := pb.NewSweepServiceClient(conn)
	// Enough trials for every iteration.
	nseed := (b.N + 99) / 100
	if _, err := sc.SubmitSweep(ctx, submitRequest(b, benchSweep("bench", 10, 10, nseed), "", 0)); err != nil {
		b.Fatal(err)
	}
	result := &pb.TrialResult{TrainAcc: 1, TestAcc: 0.9, LambdaMax: 3}
	var (
		mu    sync.Mutex
		lats  []time.Duration
		taken atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for s := 0; s < slots; s++ {
		wg.Add(1)
		wc, workerID := wcs[s%workers], ids[s%workers]
		go func() {
			defer wg.Done()
			var mine []time.Duration
			// Closed loop: the slots take cycles from a shared count. Paced:
			// slot s starts cycles s, s+64, s+128, … with cycle i due at
			// i/rate (at once when it is late), so each slot paces itself.
			for k := 0; ; k++ {
				i := s + k*slots
				if rate == 0 {
					i = int(taken.Add(1)) - 1
				}
				if i >= b.N {
					break
				}
				if rate > 0 {
					if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
						time.Sleep(d)
					}
				}
				t0 := time.Now()
				resp, err := wc.AcquireTrial(ctx, &pb.AcquireTrialRequest{WorkerId: workerID, Wait: durationpb.New(time.Second)})
				mine = append(mine, time.Since(t0))
				if err == nil && resp.Lease == nil {
					err = fmt.Errorf("no lease")
				}
				if err == nil {
					l := resp.Lease
					_, err = wc.CompleteTrial(ctx, &pb.CompleteTrialRequest{WorkerId: workerID, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Result: result})
				}
				if err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					return
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	if first != nil {
		b.Fatal(first)
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	pct := func(p float64) float64 { return float64(lats[int(p*float64(len(lats)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "cycles/s")
	b.ReportMetric(pct(0.5), "p50-acquire-ms")
	b.ReportMetric(pct(0.99), "p99-acquire-ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/cycle")
}

// BenchmarkSubmit measures submitting one sweep of 100 × 100 × 10 = 100,000
// trials over gRPC (decoding and validation of its spec_json, expansion,
// trial IDs and the bbolt write; the client's parsing of the file is not
// timed).
func BenchmarkSubmit(b *testing.B) { benchSubmit(b, 10) }

// BenchmarkSubmit1M is BenchmarkSubmit with 100 × 100 × 100 = 1,000,000 trials.
func BenchmarkSubmit1M(b *testing.B) { benchSubmit(b, 100) }

func benchSubmit(b *testing.B, nseed int) {
	addr, _ := benchServer(b)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	sc := pb.NewSweepServiceClient(conn)
	// The client parses the sweep files: not part of what is measured.
	reqs := make([]*pb.SubmitSweepRequest, b.N)
	for i := range reqs {
		reqs[i] = submitRequest(b, benchSweep(fmt.Sprintf("s%d", i), 100, 100, nseed), "", 0)
	}
	heap0 := liveHeap()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := sc.SubmitSweep(context.Background(), reqs[i])
		if err != nil {
			b.Fatal(err)
		}
		if resp.TrialsAdded != int32(100*100*nseed) {
			b.Fatalf("added %d", resp.TrialsAdded)
		}
	}
	b.StopTimer()
	// What the coordinator keeps per pending trial (queue entry, counts).
	b.ReportMetric(float64(liveHeap()-heap0)/float64(b.N*100*100*nseed), "heap-B/trial")
}

// liveHeap returns the bytes of heap that a full collection leaves.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkGroupedQuery measures AggregateResults over gRPC on a sweep of
// 100 × 100 × 10 = 100,000 succeeded trials, grouped by (batch_size, lr) —
// 10,000 groups of 10 seeds, every metric aggregated. The row cache is built
// by a first query before timing starts, as a running coordinator has it.
func BenchmarkGroupedQuery(b *testing.B) {
	addr, c := benchServer(b)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	sc := pb.NewSweepServiceClient(conn)
	ctx := context.Background()
	if _, err := sc.SubmitSweep(ctx, submitRequest(b, benchSweep("q", 100, 100, 10), "", 0)); err != nil {
		b.Fatal(err)
	}
	// Record a result for every trial directly in the store (what 100,000
	// CompleteTrial calls would leave behind).
	var ids []string
	if err := c.store.RawTrials("q", func(t *pb.Trial) bool { ids = append(ids, t.Id); return true }); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(ids); i += 64 {
				_, err := c.store.UpdateTrial("q", ids[i], func(t *pb.Trial) error {
					t.State = pb.TrialState_TRIAL_STATE_SUCCEEDED
					t.Result = &pb.TrialResult{TrainAcc: 0.9, TestAcc: 0.8 + float64(i%7)/100, TrainLoss: 0.2, TestLoss: 0.5, LambdaMax: float64(i % 13),
						Measures: map[string]float64{"trace": float64(i % 17), "keskar_full_1e-3": float64(i % 5)}}
					return nil
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	req := &pb.AggregateResultsRequest{SweepId: "q", GroupBy: []string{"batch_size", "lr"}}
	if _, err := sc.AggregateResults(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := sc.AggregateResults(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Groups) != 10000 || len(resp.Metrics) != 10 || resp.Groups[0].Metrics[1].Count != 10 {
			b.Fatalf("%d groups", len(resp.Groups))
		}
	}
}

// cpuTime returns the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
