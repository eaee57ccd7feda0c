// Command flatbench times flatsweep on the reference problem written by
// scripts/bench/gen (the MLP 784-512-512-512-10, ReLU, cross-entropy, float64,
// on 2,048 MNIST examples), the flatsweep half of scripts/bench/compare.sh:
//
//	hvp_full      Workspace.HVP over all n examples (forward, backward,
//	              R-forward, R-backward);
//	hvp_cached    Hessian.Apply of NewHessian over all n examples (forward and
//	              backward state cached, R passes only);
//	train         plain SGD steps at batch size B (Workspace.LossGrad and
//	              θ ← θ − ε∇L, the inner loop of compute/train) over the n
//	              examples;
//	train32       the same steps in float32 (train.precision: float32): the
//	              batch rounded to float32 and Workspace32.SGDStep of the
//	              network's float32 path (nn.Net32: forward, backward and
//	              the update fused into it), as compute/train's Float32
//	              runs plain SGD.
//
// Each is timed as the median of repeated calls after a warm-up call, and
// reported with its GEMM flop count and achieved GFLOP/s. Output is one
// "key value" pair per line.
//
//	go run -tags openblas ./scripts/bench/flatbench -dir /tmp/flatsweep-bench -threads 2
//
// With -serve it sets everything up, warms each measurement once, prints
// "ready" and then, for every line read from standard input naming a
// measurement (hvp_full, hvp_cached, train or train32), runs it once and prints the
// elapsed seconds: scripts/bench/torch_ref.py --pairs drives it so that
// PyTorch and flatsweep calls alternate one by one on a noisy machine.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/flatsweep/flatsweep/compute/blas"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/weights"
	"gonum.org/v1/gonum/floats"
)

func main() {
	dir := flag.String("dir", "/tmp/flatsweep-bench", "folder written by scripts/bench/gen")
	threads := flag.Int("threads", 2, "BLAS threads (OpenBLAS only; gonum uses GOMAXPROCS)")
	rows := flag.Int("rows", 2048, "chunk size of the Hessian-vector products")
	batch := flag.Int("batch", 128, "SGD batch size")
	lr := flag.Float64("lr", 0.01, "SGD learning rate")
	minTime := flag.Duration("min-time", 3*time.Second, "minimum timed duration per measurement")
	only := flag.String("only", "", "run only this measurement (hvp_full, hvp_cached, train or train32)")
	serve := flag.Bool("serve", false, "run the measurements named on standard input, one call per line")
	flag.Parse()
	blas.SetThreads(*threads)
	if err := run(*dir, *rows, *batch, *lr, *minTime, *only, *serve); err != nil {
		log.Fatal(err)
	}
}

// timeit calls f once to warm up, then at least 5 times and for at least
// minTime, and returns the median duration of a call.
func timeit(f func(), minTime time.Duration) time.Duration {
	f()
	var ts []time.Duration
	for start := time.Now(); len(ts) < 5 || time.Since(start) < minTime; {
		t0 := time.Now()
		f()
		ts = append(ts, time.Since(t0))
	}
	slices.Sort(ts)
	return ts[len(ts)/2]
}

// gemmFlops returns the flops of the matrix products of one pass over n
// examples: the sum over Dense layers of 2·n·In·Out times first for the first
// layer and times rest for the others.
func gemmFlops(net *nn.Network, n, first, rest int) float64 {
	var f float64
	seen := false
	for _, ly := range net.Layers() {
		if d, ok := ly.(*nn.Dense); ok {
			k := rest
			if !seen {
				k, seen = first, true
			}
			f += 2 * float64(n) * float64(d.In*d.Out) * float64(k)
		}
	}
	return f
}

func run(dir string, rows, batch int, lr float64, minTime time.Duration, only string, serve bool) error {
	net, err := nn.NewMLP(784, []int{512, 512, 512}, 10, nn.ActReLU)
	if err != nil {
		return err
	}
	theta, err := load(filepath.Join(dir, "model.safetensors"), func(f *os.File) ([]float64, error) {
		th, _, err := weights.Load(f, net)
		return th, err
	})
	if err != nil {
		return err
	}
	ts, err := load(filepath.Join(dir, "inputs.safetensors"), func(f *os.File) ([]weights.Tensor, error) {
		ts, _, err := weights.Read(f)
		return ts, err
	})
	if err != nil {
		return err
	}
	byName := map[string][]float64{}
	for _, t := range ts {
		byName[t.Name] = t.Data
	}
	x, v, ref := byName["x"], byName["v"], byName["hv"]
	y := make([]int, len(byName["y"]))
	for i, c := range byName["y"] {
		y[i] = int(c)
	}
	n := len(y)

	hv := make([]float64, len(theta))
	ws := net.NewWorkspace(rows)
	h := nn.NewHessian(net, theta, x, y, rows)
	steps, d0 := n/batch, net.InSize()
	tws := net.NewWorkspace(batch)
	th := slices.Clone(theta)
	grad := make([]float64, len(th))
	n32, err := net.Float32()
	if err != nil {
		return err
	}
	tws32 := n32.NewWorkspace(batch)
	th32, grad32, xb32 := make([]float32, len(theta)), make([]float32, len(theta)), make([]float32, batch*d0)
	nn.To32(th32, theta)
	type measure struct {
		name  string
		f     func()
		flops float64 // GEMM flops of one call
		per   float64 // units (products or examples) per call
		unit  string
	}
	measures := []measure{
		{"hvp_full", func() { ws.HVP(hv, theta, v, x, y) }, gemmFlops(net, n, 3, 8), 1, "per_s"},
		{"hvp_cached", func() { h.Apply(hv, v) }, gemmFlops(net, n, 2, 6), 1, "per_s"},
		{"train", func() {
			for lo := 0; lo < steps*batch; lo += batch {
				tws.LossGrad(grad, th, x[lo*d0:(lo+batch)*d0], y[lo:lo+batch])
				floats.AddScaled(th, -lr, grad)
			}
		}, gemmFlops(net, steps*batch, 2, 3), float64(steps * batch), "examples_per_s"},
		{"train32", func() {
			for lo := 0; lo < steps*batch; lo += batch {
				nn.To32(xb32, x[lo*d0:(lo+batch)*d0])
				tws32.SGDStep(th32, grad32, xb32, y[lo:lo+batch], lr)
			}
		}, gemmFlops(net, steps*batch, 2, 3), float64(steps * batch), "examples_per_s"},
	}
	if serve {
		return serveLoop(measures, func(m measure) (string, func()) { return m.name, m.f })
	}

	fmt.Printf("flatsweep_backend %s\n", blas.Name)
	fmt.Printf("flatsweep_blas_threads %d\n", blas.Threads())
	fmt.Printf("flatsweep_rows %d\n", rows)
	ws.HVP(hv, theta, v, x, y)
	var diff, norm float64
	for i := range hv {
		diff, norm = max(diff, math.Abs(hv[i]-ref[i])), max(norm, math.Abs(ref[i]))
	}
	fmt.Printf("relerr_hv_vs_gen %.3e\n", diff/norm)
	// The float32 gradient at the float32-rounded weights against gen's
	// float64 one, and the loss, on all n examples.
	g32, x32 := make([]float32, len(theta)), make([]float32, len(x))
	nn.To32(x32, x)
	l32, _ := n32.NewWorkspace(rows).LossGrad(g32, th32, x32, y)
	diff, norm = 0, 0
	for i, g := range byName["grad"] {
		diff, norm = max(diff, math.Abs(float64(g32[i])-g)), max(norm, math.Abs(g))
	}
	fmt.Printf("relerr_grad32_vs_gen %.3e\n", diff/norm)
	fmt.Printf("loss32 %.9g\n", l32)
	for _, m := range measures {
		if only != "" && only != m.name {
			continue
		}
		d := timeit(m.f, minTime)
		fmt.Printf("%s_%s %.4f\n", m.name, m.unit, m.per/d.Seconds())
		fmt.Printf("%s_gflops %.2f\n", m.name, m.flops/d.Seconds()/1e9)
	}
	return nil
}

// serveLoop warms every measurement once, prints "ready", then runs the
// measurement named on each line of standard input once and prints the
// elapsed seconds, until end of input.
func serveLoop[M any](ms []M, get func(M) (string, func())) error {
	byName := map[string]func(){}
	for _, m := range ms {
		name, f := get(m)
		f()
		byName[name] = f
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f, ok := byName[in.Text()]
		if !ok {
			return fmt.Errorf("unknown measurement %q", in.Text())
		}
		t0 := time.Now()
		f()
		fmt.Printf("%.9f\n", time.Since(t0).Seconds())
	}
	return in.Err()
}

// load opens path and calls read on it.
func load[T any](path string, read func(*os.File) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	return read(f)
}
