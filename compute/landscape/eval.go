package landscape

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/spec"
)

// DefaultRows is the chunk size of the evaluation when Options.Rows is 0.
const DefaultRows = 512

// MaxWorkers bounds the goroutines over grid points.
const MaxWorkers = 2

// Options tune how a landscape is evaluated; none changes its values
// beyond rounding (Rows) or at all (Workers). The zero value is the
// default.
type Options struct {
	// Rows is the number of examples per chunk (default DefaultRows).
	Rows int
	// Workers is the number of goroutines evaluating grid points: 0 means
	// MaxWorkers; it is capped at MaxWorkers and GOMAXPROCS. The values do
	// not depend on it. Two workers pay when the BLAS runs each product on
	// one thread (OpenBLAS with --blas-threads 1: 16.6 against 25.6 ms per
	// point of the reference model on 2 cores) and are about even when it
	// is parallel already (gonum's Dgemm over GOMAXPROCS goroutines, 61
	// against 65 ms; see docs/BENCHMARKS.md).
	Workers int
	// Direct turns off the shared first layer: every grid point runs the
	// whole network on its parameters (for checks and benchmarks).
	Direct bool
}

// workers returns the number of goroutines to use for n points.
func (o Options) workers(n int) int {
	w := o.Workers
	if w <= 0 {
		w = MaxWorkers
	}
	return max(1, min(w, MaxWorkers, runtime.GOMAXPROCS(0), n))
}

// ErrNotFinite is returned (wrapped) when the loss at a grid point is NaN
// or infinite, which a spec.Landscape cannot hold.
var ErrNotFinite = errors.New("landscape: loss not finite")

// Slice evaluates the mean loss and the accuracy of net over train and test
// at θ + a·d₁ + b·d₂ for every a in as and b in bs (row-major, a fastest:
// entry j·len(as) + i is (as[i], bs[j])); with bs empty it is the 1-D slice
// θ + a·d₁ and d₂ is ignored. d₁ and d₂ are typically filter-normalized
// directions (see Direction). The result's Kind is "1d" or "2d".
func Slice(ctx context.Context, net *nn.Network, theta, d1, d2, as, bs []float64, train, test data.Set, opt Options) (*spec.Landscape, error) {
	if len(as) == 0 {
		return nil, errors.New("landscape: no grid values")
	}
	basis := [][]float64{theta, d1}
	kind := spec.Landscape1D
	var coef [][]float64
	if len(bs) == 0 {
		for _, a := range as {
			coef = append(coef, []float64{1, a})
		}
	} else {
		kind = spec.Landscape2D
		basis = append(basis, d2)
		for _, b := range bs {
			for _, a := range as {
				coef = append(coef, []float64{1, a, b})
			}
		}
	}
	l, err := evaluate(ctx, net, basis, coef, train, test, opt)
	if err != nil {
		return nil, err
	}
	l.Kind, l.A = kind, append([]float64(nil), as...)
	if len(bs) > 0 {
		l.B = append([]float64(nil), bs...)
	}
	return l, nil
}

// Line evaluates the mean loss and the accuracy of net over train and test
// at (1 − α)·θ₀ + α·θ₁ for every α in alphas (Kind "line"): α = 0 is θ₀ and
// α = 1 is θ₁, exactly.
func Line(ctx context.Context, net *nn.Network, theta0, theta1, alphas []float64, train, test data.Set, opt Options) (*spec.Landscape, error) {
	if len(alphas) == 0 {
		return nil, errors.New("landscape: no grid values")
	}
	coef := make([][]float64, len(alphas))
	for i, a := range alphas {
		coef[i] = []float64{1 - a, a}
	}
	l, err := evaluate(ctx, net, [][]float64{theta0, theta1}, coef, train, test, opt)
	if err != nil {
		return nil, err
	}
	l.Kind, l.A = spec.LandscapeLine, append([]float64(nil), alphas...)
	return l, nil
}

// shareable reports whether the first layer is linear in its parameters.
func shareable(net *nn.Network) bool {
	switch net.Layers()[0].(type) {
	case *nn.Dense, *nn.Conv2D:
		return true
	}
	return false
}

// worker is one goroutine's scratch: its workspace, the parameters of the
// point and its first-layer output.
type worker struct {
	ws    *nn.Workspace
	theta []float64
	z     []float64
}

// evaluate computes, for every point p, the loss and accuracy at
// θ_p = Σ_k coef[p][k]·basis[k] over train and test.
func evaluate(ctx context.Context, net *nn.Network, basis, coef [][]float64, train, test data.Set, opt Options) (*spec.Landscape, error) {
	P := net.NumParams()
	for k, v := range basis {
		if len(v) != P {
			return nil, fmt.Errorf("landscape: vector %d has length %d, want P = %d", k, len(v), P)
		}
	}
	if train.Len() == 0 || test.Len() == 0 {
		return nil, fmt.Errorf("landscape: %d training and %d test examples, want at least one of each", train.Len(), test.Len())
	}
	for _, s := range []data.Set{train, test} {
		if s.Features != net.InSize() {
			return nil, fmt.Errorf("landscape: examples of %d features for a network of input width %d", s.Features, net.InSize())
		}
	}
	rows := opt.Rows
	if rows <= 0 {
		rows = DefaultRows
	}
	share := !opt.Direct && shareable(net)
	from, w1 := 0, 0 // the boundary each point's own pass starts at, and its width
	if share {
		from, w1 = 1, net.Layers()[0].OutSize()
	}
	nw := opt.workers(len(coef))
	ws := make([]*worker, nw)
	for i := range ws {
		ws[i] = &worker{ws: net.NewWorkspace(rows), theta: make([]float64, P), z: make([]float64, rows*w1)}
	}
	var prod [][]float64 // f₀(x; V_k) for the current chunk
	if share {
		prod = make([][]float64, len(basis))
		for k := range prod {
			prod[k] = make([]float64, rows*w1)
		}
	}
	// The parameters of layer 0 are needed only without sharing.
	lo0 := 0
	if share {
		lo0 = net.Offset(1)
	}
	sums := [2][]float64{make([]float64, len(coef)), make([]float64, len(coef))}
	hits := [2][]int{make([]int, len(coef)), make([]int, len(coef))}
	for si, set := range []data.Set{train, test} {
		d := set.Features
		for lo := 0; lo < set.Len(); lo += rows {
			hi := min(lo+rows, set.Len())
			n := hi - lo
			x, y := set.X[lo*d:hi*d], set.Y[lo:hi]
			if share {
				for k, v := range basis {
					ws[0].ws.LayerForward(0, v, x, prod[k][:n*w1])
				}
			}
			var next atomic.Int64
			var failed atomic.Bool
			var wg sync.WaitGroup
			for _, w := range ws {
				wg.Go(func() {
					for {
						p := int(next.Add(1) - 1)
						if p >= len(coef) || failed.Load() {
							return
						}
						if ctx.Err() != nil {
							failed.Store(true)
							return
						}
						combine(w.theta[lo0:], basis, coef[p], lo0)
						in := x
						if share {
							in = w.z[:n*w1]
							combine(in, prod, coef[p], 0)
						}
						s, c := w.ws.EvalFrom(from, w.theta, in, y)
						sums[si][p] += s // one goroutine per point, chunks in order
						hits[si][p] += c
					}
				})
			}
			wg.Wait()
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("landscape: %w", err)
			}
		}
	}
	l := &spec.Landscape{Examples: train.Len(), TestExamples: test.Len(), Evaluations: len(coef)}
	l.TrainLoss, l.TrainAcc = make([]float64, len(coef)), make([]float64, len(coef))
	l.TestLoss, l.TestAcc = make([]float64, len(coef)), make([]float64, len(coef))
	for p := range coef {
		l.TrainLoss[p] = sums[0][p] / float64(train.Len())
		l.TestLoss[p] = sums[1][p] / float64(test.Len())
		l.TrainAcc[p] = float64(hits[0][p]) / float64(train.Len())
		l.TestAcc[p] = float64(hits[1][p]) / float64(test.Len())
		if bad := !finite(l.TrainLoss[p]) || !finite(l.TestLoss[p]); bad {
			return nil, fmt.Errorf("%w at grid point %d (coefficients %v): train %v, test %v; use a smaller extent",
				ErrNotFinite, p, coef[p], l.TrainLoss[p], l.TestLoss[p])
		}
	}
	return l, nil
}

// combine sets dst = Σ_k c[k]·basis[k][off:], summing in the order of k.
func combine(dst []float64, basis [][]float64, c []float64, off int) {
	v0 := basis[0][off:]
	v0 = v0[:len(dst)]
	switch len(basis) {
	case 2:
		v1 := basis[1][off:][:len(dst)]
		for i := range dst {
			dst[i] = c[0]*v0[i] + c[1]*v1[i]
		}
	default:
		v1, v2 := basis[1][off:][:len(dst)], basis[2][off:][:len(dst)]
		for i := range dst {
			dst[i] = c[0]*v0[i] + c[1]*v1[i] + c[2]*v2[i]
		}
	}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
