// Command flateigs computes the top eigenvalues of the reference Hessian
// written by scripts/bench/gen (the MLP 784-512-512-512-10, ReLU, mean softmax
// cross-entropy, float64, on 2,048 MNIST examples), the flatsweep half of
// scripts/bench/eigs.sh:
//
//	lanczos  curvature.LanczosTopK (largest algebraic, residual test
//	         ‖Hy − θy‖ ≤ tol·|θ| on every wanted pair);
//	power    curvature.PowerIteration (PyHessian's power iteration with
//	         Gram–Schmidt deflation, relative-change test at tol, at most
//	         -maxiter products per pair).
//
// Both use the cached operator nn.NewHessian over all the examples, which is
// the Hessian of the same mean loss as PyTorch's F.cross_entropy (gen and
// torch_ref.py --check-only check the loss, gradient and Hv against PyTorch).
// The operator's set-up (the cached forward and backward passes) is timed
// separately from the solve. Output is one "key value" pair per line:
// method, tol, k, products, steps, converged, seconds_setup, seconds_solve,
// seconds_products (the part of the solve spent in the products), and eig_i, residual_i for i = 1…k.
//
//	go run -tags openblas ./scripts/bench/flateigs -dir /tmp/flatsweep-bench -method lanczos -tol 1e-4
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/flatsweep/flatsweep/compute/blas"
	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/weights"
)

func main() {
	dir := flag.String("dir", "/tmp/flatsweep-bench", "folder written by scripts/bench/gen")
	threads := flag.Int("threads", 2, "BLAS threads (OpenBLAS only; gonum uses GOMAXPROCS)")
	rows := flag.Int("rows", 2048, "chunk size of the Hessian-vector products")
	method := flag.String("method", "lanczos", "lanczos or power")
	k := flag.Int("k", 5, "number of eigenvalues")
	tol := flag.Float64("tol", 1e-4, "tolerance (lanczos: relative residual; power: relative change)")
	steps := flag.Int("steps", 500, "lanczos step budget")
	maxIter := flag.Int("maxiter", 100, "power iteration products per pair")
	seed := flag.Uint64("seed", 1, "seed of the random start vectors")
	flag.Parse()
	blas.SetThreads(*threads)
	if err := run(*dir, *rows, *method, *k, *tol, *steps, *maxIter, *seed); err != nil {
		log.Fatal(err)
	}
}

func run(dir string, rows int, method string, k int, tol float64, steps, maxIter int, seed uint64) error {
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
	var x, yf []float64
	for _, t := range ts {
		switch t.Name {
		case "x":
			x = t.Data
		case "y":
			yf = t.Data
		}
	}
	y := make([]int, len(yf))
	for i, c := range yf {
		y[i] = int(c)
	}

	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed))
	t0 := time.Now()
	h := nn.NewHessian(net, theta, x, y, rows)
	n := h.Dim()
	// The first product fills the cache; count it as set-up, as PyTorch's
	// create_graph gradient is.
	scratch := make([]float64, n)
	h.Apply(scratch, make([]float64, n))
	setup := time.Since(t0)

	// op times the products, so that the solver's own work (reorthogonalization,
	// tridiagonal eigensolves, deflation) shows as seconds_solve − seconds_products.
	var inOp time.Duration
	op := func(dst, v []float64) {
		t := time.Now()
		h.Apply(dst, v)
		inOp += time.Since(t)
	}
	var (
		eig       []curvature.Eigen
		products  int
		nsteps    int
		converged bool
	)
	t1 := time.Now()
	switch method {
	case "lanczos":
		start := make([]float64, n)
		curvature.RandomUnit(start, rng)
		res, err := curvature.LanczosTopK(ctx, n, op, start, curvature.TopKSettings{
			K: k, Steps: steps, Tol: tol, Which: curvature.LargestAlgebraic, Restart: rng,
		})
		if err != nil {
			return err
		}
		eig, products, nsteps, converged = res.Eigen, res.Products, res.Steps, res.Converged
	case "power":
		res, err := curvature.PowerIteration(ctx, n, op, rng, curvature.PowerSettings{K: k, MaxIter: maxIter, Tol: tol})
		if err != nil {
			return err
		}
		eig, products, converged = res.Eigen, res.Products, true
		for _, e := range res.Eigen {
			nsteps += e.Steps
			converged = converged && e.Converged
		}
	default:
		return fmt.Errorf("unknown method %q", method)
	}
	solve := time.Since(t1)

	fmt.Printf("flatsweep_backend %s\n", blas.Name)
	fmt.Printf("method %s\n", method)
	fmt.Printf("tol %g\n", tol)
	fmt.Printf("k %d\n", k)
	fmt.Printf("products %d\n", products)
	fmt.Printf("steps %d\n", nsteps)
	fmt.Printf("converged %t\n", converged)
	fmt.Printf("seconds_setup %.3f\n", setup.Seconds())
	fmt.Printf("seconds_solve %.3f\n", solve.Seconds())
	fmt.Printf("seconds_products %.3f\n", inOp.Seconds())
	for i, e := range eig {
		fmt.Printf("eig_%d %.15e\n", i+1, e.Value)
		fmt.Printf("residual_%d %.3e\n", i+1, e.Residual)
	}
	return nil
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
