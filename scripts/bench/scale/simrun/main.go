// Command simrun measures the makespan of a sweep of simulated trials on a
// real flatsweep deployment on this machine: it starts `flatsweep
// coordinator --accept-simulated` on a fresh database and W `flatsweep
// worker --simulate` processes of S slots each, all as processes of their
// own talking gRPC over loopback, submits one sweep file, waits for every
// trial to succeed, stops everything and reads the database.
//
// The makespan is the time from the submission to the moment the harness
// sees every trial succeeded (it polls every 20 ms), on its monotonic
// clock; the span from the first lease's grant to the last attempt's end as
// the coordinator stored them (AttemptRecord, wall-clock times) is printed
// beside it. It is compared with the lower bound
//
//	L = max(longest trial, Σ trial durations / (W·S)),
//
// where the durations are the ones the workers measured (pb.TrialResult's
// duration_seconds), and with the ideal of the nominal durations when every
// trial lasts the same (-nominal). With -order both, the sweep is run
// once with the coordinator's cost order and once with --lease-order id,
// one after the other, each on a database of its own.
//
//	go build -o /tmp/fs ./cmd/flatsweep
//	go run ./scripts/bench/scale/simrun -bin /tmp/fs -sweep S.yaml -workers 4 -slots 16 -simulate 1s -nominal 1s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/scripts/bench/scale/loadavg"
	"github.com/flatsweep/flatsweep/sweeps"
)

func main() {
	var o opts
	flag.StringVar(&o.bin, "bin", "", "flatsweep binary (required)")
	flag.StringVar(&o.sweep, "sweep", "", "sweep file (required)")
	flag.StringVar(&o.out, "out", "/tmp/flatsweep-simrun", "directory for databases and logs")
	flag.IntVar(&o.workers, "workers", 4, "worker processes")
	flag.IntVar(&o.slots, "slots", 16, "slots per worker")
	flag.DurationVar(&o.simulate, "simulate", 0, "worker --simulate (per trial)")
	flag.DurationVar(&o.perUpdate, "per-update", 0, "worker --simulate-per-update")
	flag.DurationVar(&o.nominal, "nominal", 0, "nominal duration of every trial, for the ideal makespan trials·d/slots (0: none)")
	flag.StringVar(&o.order, "order", "cost", "coordinator --lease-order: cost, id, or both (one run each)")
	flag.Parse()
	if o.bin == "" || o.sweep == "" {
		fmt.Fprintln(os.Stderr, "simrun: -bin and -sweep are required")
		os.Exit(2)
	}
	orders := []string{o.order}
	if o.order == "both" {
		orders = []string{"cost", "id"}
	}
	for _, ord := range orders {
		if err := run(o, ord); err != nil {
			fmt.Fprintln(os.Stderr, "simrun:", err)
			os.Exit(1)
		}
	}
}

type opts struct {
	bin, sweep, out, order string
	workers, slots         int
	simulate, perUpdate    time.Duration
	nominal                time.Duration
}

// freeAddr returns a loopback address with a free port.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func start(logPath, bin string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// stop sends SIGTERM and waits; it returns the CPU time (user and
// system) the process used.
func stop(cmd *exec.Cmd) time.Duration {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	if cmd.ProcessState == nil {
		return 0
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

func run(o opts, order string) error {
	dir := filepath.Join(o.out, order)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	yaml, err := os.ReadFile(o.sweep)
	if err != nil {
		return err
	}
	sw, err := sweeps.Parse(yaml, filepath.Dir(o.sweep))
	if err != nil {
		return fmt.Errorf("%s: %w", o.sweep, err)
	}
	js, err := json.Marshal(sw)
	if err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	db := filepath.Join(dir, "sim.db")
	coord, err := start(filepath.Join(dir, "coordinator.log"), o.bin, "coordinator", "--listen", addr, "--db", db,
		"--accept-simulated", "--lease-order", order, "--log-level", "warn")
	if err != nil {
		return err
	}
	defer func() {
		if coord != nil {
			stop(coord)
		}
	}()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	client := pb.NewSweepServiceClient(cc)
	ctx := context.Background()
	if err := waitFor(func() bool {
		_, err := client.ListSweeps(ctx, &pb.ListSweepsRequest{})
		return err == nil
	}, 30*time.Second); err != nil {
		return fmt.Errorf("coordinator at %s: %w", addr, err)
	}
	var workers []*exec.Cmd
	defer func() {
		for _, w := range workers {
			stop(w)
		}
	}()
	for i := 0; i < o.workers; i++ {
		args := []string{"worker", "--coordinator", addr, "--slots", fmt.Sprint(o.slots), "--name", fmt.Sprintf("sim%d", i),
			"--simulate", o.simulate.String(), "--simulate-per-update", o.perUpdate.String(), "--log-level", "warn"}
		w, err := start(filepath.Join(dir, fmt.Sprintf("worker%d.log", i)), o.bin, args...)
		if err != nil {
			return err
		}
		workers = append(workers, w)
	}
	if err := waitFor(func() bool {
		r, err := client.ListWorkers(ctx, &pb.ListWorkersRequest{})
		return err == nil && len(r.Workers) == o.workers
	}, 30*time.Second); err != nil {
		return fmt.Errorf("workers did not register: %w", err)
	}
	time.Sleep(time.Second) // every slot is waiting in AcquireTrial
	t0 := time.Now()
	resp, err := client.SubmitSweep(ctx, &pb.SubmitSweepRequest{SpecJson: string(js), SpecYaml: string(yaml)})
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	submitted := time.Since(t0)
	total := int(resp.TrialsAdded)
	fmt.Printf("== order %s: %d trials on %d workers × %d slots (submitted in %.2fs); %s, load average %s\n",
		order, total, o.workers, o.slots, submitted.Seconds(), time.Now().UTC().Format(time.DateTime), loadavg.String())
	for {
		g, err := client.GetSweep(ctx, &pb.GetSweepRequest{SweepId: sw.Name})
		if err != nil {
			return err
		}
		if int(g.Sweep.StateCounts["succeeded"]) == total {
			break
		}
		if n := g.Sweep.StateCounts["failed"] + g.Sweep.StateCounts["discarded"]; n > 0 {
			return fmt.Errorf("%d trials failed or were discarded; see %s", n, dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wall := time.Since(t0)
	fmt.Printf("done; load average %s\n", loadavg.String())
	var wcpu time.Duration
	for _, w := range workers {
		wcpu += stop(w)
	}
	workers = nil
	ccpu := stop(coord)
	coord = nil
	fmt.Printf("CPU time: coordinator %.1fs, workers %.1fs (%.0f µs and %.0f µs per trial)\n",
		ccpu.Seconds(), wcpu.Seconds(), 1e6*ccpu.Seconds()/float64(total), 1e6*wcpu.Seconds()/float64(total))
	return report(o, db, sw.Name, wall)
}

func waitFor(ok func() bool, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// report reads the stored trials and prints the makespan, the bounds and
// the per-trial overhead.
func report(o opts, db, sweep string, wall time.Duration) error {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	st, err := store.OpenReadOnly(db)
	if err != nil {
		return err
	}
	defer st.Close()
	var (
		first, last time.Time
		sum, long   float64
		n, attempts int
		simulated   int
		durs        []float64
		held        float64
		byWorker    = map[string][][2]time.Time{}
	)
	err = st.RawTrials(sweep, func(t *pb.Trial) bool {
		n++
		attempts += len(t.Attempts)
		for _, a := range t.Attempts {
			s, e := a.StartTime.AsTime(), a.EndTime.AsTime()
			byWorker[a.WorkerId] = append(byWorker[a.WorkerId], [2]time.Time{s, e})
			held += e.Sub(s).Seconds()
			if first.IsZero() || s.Before(first) {
				first = s
			}
			if e.After(last) {
				last = e
			}
		}
		if r := t.Result; r != nil {
			sum += r.DurationSeconds
			long = math.Max(long, r.DurationSeconds)
			durs = append(durs, r.DurationSeconds)
			if r.Simulated {
				simulated++
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	gapReport(byWorker, o.slots)
	slots := float64(o.workers * o.slots)
	// The makespan is timed on this process's monotonic clock: the stored
	// times are wall-clock times, which a virtual machine's clock
	// discipline may step or slew during the run.
	mk := wall.Seconds()
	lb := math.Max(long, sum/slots)
	sort.Float64s(durs)
	fmt.Printf("trials %d (attempts %d, simulated %d); trial durations on the workers: min %.3fs median %.3fs p90 %.3fs p99 %.3fs max %.3fs, sum %.1fs\n",
		n, attempts, simulated, durs[0], durs[len(durs)/2], durs[len(durs)*9/10], durs[len(durs)*99/100], durs[len(durs)-1], sum)
	fmt.Printf("makespan (submit → every trial seen succeeded, polled every 20 ms) %.2fs; first lease → last result, as stored %.2fs\n",
		mk, last.Sub(first).Seconds())
	fmt.Printf("lower bound max(longest %.2fs, work/slots %.2fs) = %.2fs: makespan/bound = %.4f (%+.2f %%)\n",
		long, sum/slots, lb, mk/lb, 100*(mk/lb-1))
	if o.nominal > 0 {
		ideal := float64(n) * o.nominal.Seconds() / slots
		fmt.Printf("ideal trials·%s/slots = %.2fs: makespan/ideal = %.4f (%+.2f %%); idle per trial %.1f ms\n",
			o.nominal, ideal, mk/ideal, 100*(mk/ideal-1), 1000*(mk*slots-float64(n)*o.nominal.Seconds())/float64(n))
	}
	fmt.Printf("worker-side overhead (measured duration − nominal) per trial: %s; lease held beyond the measured duration: %.2f ms a trial\n",
		overhead(o, sum, n), 1000*(held-sum)/float64(attempts))
	return nil
}

func overhead(o opts, sum float64, n int) string {
	if o.nominal <= 0 {
		return "n/a (durations vary)"
	}
	return fmt.Sprintf("%.2f ms", 1000*(sum/float64(n)-o.nominal.Seconds()))
}

// gapReport prints how long a slot stays without a lease between two
// trials, as the coordinator saw it: on each worker of s slots, the k-th
// attempt end (in time order) frees a slot that the (k+s)-th lease grant
// fills, since a worker holds at most s leases.
func gapReport(byWorker map[string][][2]time.Time, s int) {
	var gaps []float64
	for _, iv := range byWorker {
		starts := make([]time.Time, len(iv))
		ends := make([]time.Time, len(iv))
		for i, x := range iv {
			starts[i], ends[i] = x[0], x[1]
		}
		sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
		sort.Slice(ends, func(i, j int) bool { return ends[i].Before(ends[j]) })
		for k := 0; k+s < len(starts); k++ {
			gaps = append(gaps, starts[k+s].Sub(ends[k]).Seconds())
		}
	}
	if len(gaps) == 0 {
		return
	}
	sort.Float64s(gaps)
	mean := 0.0
	for _, g := range gaps {
		mean += g
	}
	mean /= float64(len(gaps))
	q := func(p float64) float64 { return 1000 * gaps[min(int(p*float64(len(gaps))), len(gaps)-1)] }
	fmt.Printf("slot idle between trials (result stored → next lease granted): mean %.2f ms, p50 %.2f, p90 %.2f, p99 %.2f, max %.1f ms\n",
		1000*mean, q(0.5), q(0.9), q(0.99), q(1))
}
