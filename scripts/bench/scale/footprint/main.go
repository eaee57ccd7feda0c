// Command footprint measures what a sweep of a million trials costs the
// coordinator: the time to submit it over gRPC, the coordinator's memory
// (Go heap after a collection, and the process's resident set) with the
// trials pending and with their results stored, the database's bytes per
// trial, the time of grouped queries (AggregateResults, AnalyzeSweep) over
// the million results, and the time a restarted coordinator takes to load
// them.
//
// Everything runs in this one process: a coordinator (package coordinator,
// over a fresh bbolt file, with the garbage collector tuned as `flatsweep
// coordinator` tunes it) served on loopback, the gRPC client, and the
// driver. The results are not trained: -drivers goroutines lease every
// trial from the lease core in process (lease.Core.Acquire, what a
// worker's AcquireTrial call does without the network) and record a
// synthetic result for it with lease.Core.Complete, each durable like a
// real one. A synthetic result has the shape of a real result of the sweep
// (losses, accuracies, λ₁ with its residual, HVP and parameter counts, two
// measures and a curve of -epochs epochs) with values drawn from the
// trial's index, and is marked simulated.
//
//	go run ./scripts/bench/scale/footprint -n 1000000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flatsweep/flatsweep/coordinator"
	"github.com/flatsweep/flatsweep/coordinator/lease"
	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/gctune"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/scripts/bench/scale/loadavg"
	"github.com/flatsweep/flatsweep/sweeps"
)

func main() {
	n := flag.Int("n", 1_000_000, "trials: 100 batch sizes × 100 learning rates × n/10,000 seeds")
	epochs := flag.Int("epochs", 10, "epochs of each trial, and of each synthetic curve")
	drivers := flag.Int("drivers", 64, "goroutines leasing and completing trials")
	dir := flag.String("dir", "/tmp/flatsweep-footprint", "directory for the database (emptied first)")
	analyze := flag.Bool("analyze", true, "time AnalyzeSweep too")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the first AggregateResults (which builds the row cache) to this file")
	flag.Parse()
	if err := run(*n, *epochs, *drivers, *dir, *analyze, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "footprint:", err)
		os.Exit(1)
	}
}

// sweepFile returns the sweep: 100 batch sizes × 100 learning rates × nseed
// seeds.
func sweepFile(nseed, epochs int) string {
	axis := func(n int, f func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = f(i)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprintf(`name: big
dataset: {name: synthetic, n: 100000, n_test: 10, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: %d}
grid:
  batch_size: %s
  lr: %s
  seed: %s
`, epochs,
		axis(100, func(i int) string { return fmt.Sprint(i + 1) }),
		axis(100, func(i int) string { return fmt.Sprintf("%g", float64(i+1)/1000) }),
		axis(nseed, func(i int) string { return fmt.Sprint(i + 1) }))
}

// memory returns the live Go heap after a collection and the resident set
// and its peak (VmRSS, VmHWM), in MiB.
func memory() string {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	rss, hwm := procStatus("VmRSS:"), procStatus("VmHWM:")
	return fmt.Sprintf("Go heap %.0f MiB (HeapAlloc after GC), RSS %.0f MiB, peak RSS %.0f MiB",
		float64(m.HeapAlloc)/(1<<20), rss/1024, hwm/1024)
}

// procStatus returns a kB field of /proc/self/status (0 elsewhere).
func procStatus(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.ParseFloat(f[1], 64)
				return v
			}
		}
	}
	return 0
}

// result returns a synthetic result of the trial with index i.
func result(i, epochs int) *pb.TrialResult {
	x := float64(i%1000) / 1000
	r := &pb.TrialResult{
		TrainLoss: 0.1 + x, TrainAcc: 0.9 - x/2, TestLoss: 0.2 + x, TestAcc: 0.85 - x/2,
		LambdaMax: 10 + 100*x, LambdaResidual: 1e-4 * x, LambdaConverged: true, Hvps: 60,
		Params: 4*2 + 4 + 4*2 + 2, Steps: int64(epochs * 1000), Gradients: int64(epochs * 1000),
		DurationSeconds: 1 + x, CurvatureExamples: 1000,
		Measures:  map[string]float64{"trace": 50 + x, "keskar_sharpness_1e-3": 0.01 * x},
		Simulated: true,
	}
	for e := 1; e <= epochs; e++ {
		r.Curve = append(r.Curve, &pb.EpochMetrics{Epoch: int32(e), TrainLoss: r.TrainLoss + 1/float64(e),
			TrainAcc: r.TrainAcc, TestLoss: r.TestLoss + 1/float64(e), TestAcc: r.TestAcc, Step: int64(e * 1000), Lr: 0.01, BatchSize: 100})
	}
	return r
}

func run(n, epochs, drivers int, dir string, analyze bool, cpuProfile string) error {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer gctune.Floor(gctune.DefaultFloor)()
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	nseed := max(n/10000, 1)
	n = 10000 * nseed
	db := filepath.Join(dir, "big.db")
	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d), %s; %s, load average %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(),
		time.Now().UTC().Format(time.DateTime), loadavg.String())
	fmt.Printf("== %d trials (100 B × 100 ε × %d seeds, %d epochs each), results through the lease core from %d goroutines\n", n, nseed, epochs, drivers)
	fmt.Printf("start: %s\n", memory())

	st, err := store.Open(db)
	if err != nil {
		return err
	}
	c, err := coordinator.New(st, coordinator.Config{Logger: slog.Default(), AcceptSimulated: true, LeaseTTL: 10 * time.Minute})
	if err != nil {
		return err
	}
	addr, stop, err := serve(c)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
	if err != nil {
		return err
	}
	defer conn.Close()
	sc := pb.NewSweepServiceClient(conn)
	ctx := context.Background()

	yaml := sweepFile(nseed, epochs)
	sw, err := sweeps.Parse([]byte(yaml), "")
	if err != nil {
		return err
	}
	js, err := json.Marshal(sw)
	if err != nil {
		return err
	}
	t0 := time.Now()
	resp, err := sc.SubmitSweep(ctx, &pb.SubmitSweepRequest{SpecJson: string(js), SpecYaml: yaml})
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	fmt.Printf("submit over gRPC: %d trials in %.2f s\n", resp.TrialsAdded, time.Since(t0).Seconds())
	fmt.Printf("pending: %s; database %s\n", memory(), fileSize(db))

	core := c.Core()
	wid, err := core.Register("footprint", int32(drivers), nil, "")
	if err != nil {
		return err
	}
	var done atomic.Int64
	t0 = time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, drivers)
	for range drivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				l, err := core.Acquire(ctx, wid, 0)
				if err != nil {
					errs <- err
					return
				}
				if l == nil {
					return
				}
				k := lease.Key{Sweep: l.SweepId, Trial: l.TrialId}
				i := int(done.Add(1))
				if _, err := core.Complete(wid, k, l.Token, result(i, epochs)); err != nil {
					errs <- err
					return
				}
				if i%100000 == 0 {
					fmt.Printf("  %d results stored (%.0f/s)\n", i, float64(i)/time.Since(t0).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	el := time.Since(t0)
	fmt.Printf("results: %d leased and recorded in %.1f s (%.0f/s)\n", done.Load(), el.Seconds(), float64(done.Load())/el.Seconds())
	fmt.Printf("succeeded: %s; database %s\n", memory(), fileSize(db))
	if sz := size(db); sz > 0 {
		fmt.Printf("database bytes per stored trial: %.0f\n", float64(sz)/float64(n))
	}

	req := &pb.AggregateResultsRequest{SweepId: "big", GroupBy: []string{"batch_size", "lr"}}
	for i := 0; i < 3; i++ {
		if i == 0 && cpuProfile != "" {
			f, err := os.Create(cpuProfile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
		}
		t0 = time.Now()
		ar, err := sc.AggregateResults(ctx, req)
		if i == 0 && cpuProfile != "" {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return fmt.Errorf("aggregate: %w", err)
		}
		fmt.Printf("AggregateResults by (batch_size, lr), %d groups of %d seeds, over gRPC: %.0f ms (%s)\n",
			len(ar.Groups), nseed, 1000*time.Since(t0).Seconds(), map[bool]string{true: "first: builds the row cache", false: "cached rows"}[i == 0])
	}
	fmt.Printf("after the queries: %s\n", memory())
	if analyze {
		t0 = time.Now()
		an, err := sc.AnalyzeSweep(ctx, &pb.AnalyzeSweepRequest{SweepId: "big"})
		if err != nil {
			fmt.Printf("AnalyzeSweep: %v after %.1f s\n", err, time.Since(t0).Seconds())
		} else {
			fmt.Printf("AnalyzeSweep over gRPC: %.2f s (%d bytes of JSON)\n", time.Since(t0).Seconds(), len(an.AnalysisJson))
		}
		fmt.Printf("after the analysis: %s\n", memory())
	}
	stop()
	if err := st.Close(); err != nil {
		return err
	}
	c, st = nil, nil
	runtime.GC()

	t0 = time.Now()
	st, err = store.Open(db)
	if err != nil {
		return err
	}
	c2, err := coordinator.New(st, coordinator.Config{Logger: slog.Default(), AcceptSimulated: true})
	if err != nil {
		return err
	}
	fmt.Printf("restart: store opened and coordinator state loaded in %.2f s; %s\n", time.Since(t0).Seconds(), memory())
	fmt.Printf("end: load average %s\n", loadavg.String())
	runtime.KeepAlive(c2)
	return st.Close()
}

func size(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func fileSize(path string) string { return fmt.Sprintf("%.0f MiB", float64(size(path))/(1<<20)) }

// serve serves c on a loopback port until the returned stop is called.
func serve(c *coordinator.Coordinator) (string, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Serve(ctx, lis, grpc.MaxRecvMsgSize(64<<20))
	}()
	return lis.Addr().String(), func() { cancel(); <-done }, nil
}
