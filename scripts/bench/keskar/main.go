// Command keskar compares the two maximizers of Keskar et al.'s ε-sharpness
// (compute/flatness.KeskarSharpness) side by side in one process, and the two
// ways of computing A⁺θ for the random subspace, on one trained network:
//
//	mnist      the keskar-f1 setting (sweeps/keskar-f1.yaml: MNIST N = 8,000
//	           from -data, a 784-512-512-10 ReLU MLP, Adam lr 1e-3, batch
//	           256, 20 epochs, seed 1; 2,000 curvature examples);
//	synthetic  the embedded synthetic data set (N = 2,000), a 128-128 ReLU
//	           MLP trained the same way, all 2,000 examples.
//
// The trained weights are cached in -cache (trained once, then read). For
// every space (full, and a random subspace of -p columns) and ε it runs
// L-BFGS-B and the projected ascent with -iterations iterations, in
// alternating order (then, with -lbfgsb-iterations, L-BFGS-B with that many
// iterations), and prints one line per run: φ, the oracle calls (loss and
// gradient evaluations), the iterations, the seconds and the solver's status. For the subspace it also times
// the random matrix's draw, A⁺θ by the normal equations refined once (the
// method KeskarSharpness uses) and by the thin SVD (the earlier method),
// their largest relative difference, and the two products with A (Ay and
// Aᵀg) that every evaluation in the subspace adds to the oracle call.
//
// With -measure N it then times the measure as a trial computes it
// (compute/measures.go: one KeskarSpace per space, every ε measured in it
// with -iterations iterations of L-BFGS-B, the evaluation at y = 0 shared
// across the ε), N times in alternating order (full first, then subspace
// first), and prints for each space the seconds of building the space (the
// draw of A and A⁺θ), of the gradient calls and of the rest (the products
// with A and the solver), the gradient calls, and the subspace-to-full
// ratio of the seconds of each pair, and φ after every gradient call (the
// solver's path: 100·(L − L(θ))/(1 + L(θ)) at each point it evaluates).
//
//	go run -tags openblas ./scripts/bench/keskar -setting mnist -data data/mnist
//	go run -tags openblas ./scripts/bench/keskar -setting synthetic
//	go run -tags openblas ./scripts/bench/keskar -setting mnist -data data/mnist -measure 4 -compare=false -pinv=false
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/compute/blas"
	"github.com/flatsweep/flatsweep/compute/flatness"
	"github.com/flatsweep/flatsweep/scripts/bench/scale/loadavg"
	"github.com/flatsweep/flatsweep/spec"
	"gonum.org/v1/gonum/mat"
)

func main() {
	setting := flag.String("setting", "mnist", "mnist (keskar-f1) or synthetic")
	dir := flag.String("data", "data/mnist", "MNIST directory (IDX files) for -setting mnist")
	cache := flag.String("cache", os.TempDir(), "directory for the trained weights")
	epsList := flag.String("eps", "1e-3,5e-4", "box sizes ε, comma-separated")
	iters := flag.Int("iterations", 10, "solver iterations")
	p := flag.Int("p", 100, "random subspace dimension")
	threads := flag.Int("threads", 2, "BLAS threads (OpenBLAS only)")
	pinv := flag.Bool("pinv", true, "also time A⁺θ by the SVD and by the refined normal equations")
	more := flag.Int("lbfgsb-iterations", 0, "if > 0, also run L-BFGS-B with this many iterations")
	measure := flag.Int("measure", 0, "if > 0, time the measure as a trial runs it (both spaces, all ε) this many times")
	compare := flag.Bool("compare", true, "run the solver comparison")
	flag.Parse()
	blas.SetThreads(*threads)
	var eps []float64
	for _, s := range strings.Split(*epsList, ",") {
		e, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !(e > 0) {
			log.Fatalf("-eps: %q is not a positive number", s)
		}
		eps = append(eps, e)
	}
	if err := run(*setting, *dir, *cache, eps, *iters, *more, *p, *pinv, *compare, *measure); err != nil {
		log.Fatal(err)
	}
}

func trial(setting, dir string) (spec.Trial, error) {
	t := spec.Trial{
		Model:     spec.Model{Arch: spec.ArchMLP, Hidden: []int{512, 512}, Activation: "relu"},
		BatchSize: 256, LR: 0.001, Epochs: 20, Seed: 1,
		Training:  spec.Training{Optimizer: spec.Optimizer{Name: spec.OptimizerAdam}},
		Curvature: spec.Curvature{Examples: 2000, LanczosSteps: 1},
	}
	switch setting {
	case "mnist":
		t.Dataset = spec.Dataset{Name: spec.DatasetMNIST, Dir: dir, N: 8000, NTest: 2000, Seed: 1}
	case "synthetic":
		t.Dataset = spec.Dataset{Name: spec.DatasetSynthetic, N: 2000, NTest: 500, Seed: 1}
		t.Model.Hidden = []int{128, 128}
	default:
		return spec.Trial{}, fmt.Errorf("-setting %q: want mnist or synthetic", setting)
	}
	return t, nil
}

func run(setting, dir, cache string, eps []float64, iters, more, p int, pinv, compare bool, measure int) error {
	ctx := context.Background()
	t, err := trial(setting, dir)
	if err != nil {
		return err
	}
	path := filepath.Join(cache, "flatsweep-keskar-"+setting+".safetensors")
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		start := time.Now()
		res, tr, err := compute.Run(ctx, t, nil)
		if err != nil {
			return fmt.Errorf("training: %w", err)
		}
		fmt.Printf("trained in %.1f s: train loss %.4g, accuracy %.4f, test accuracy %.4f\n",
			time.Since(start).Seconds(), res.TrainLoss, res.TrainAcc, res.TestAcc)
		var buf bytes.Buffer
		if err := compute.WriteWeights(&buf, tr.Net, tr.Theta, nil); err != nil {
			return err
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return err
		}
		raw = buf.Bytes()
	} else if err != nil {
		return err
	}
	m, err := compute.LoadModel(t, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	o, err := flatness.NewNetOracle(m.Net, m.Examples.X, m.Examples.Y, compute.ChunkRows)
	if err != nil {
		return err
	}
	P := len(m.Theta)
	fmt.Printf("setting %s: P = %d, M = %d curvature examples, backend %s, L(θ) = %.6g\n", setting, P, m.Examples.Len(), blas.Name, o.Loss(m.Theta))
	// One loss and one gradient evaluation, timed, to price the oracle calls.
	g := make([]float64, P)
	start := time.Now()
	o.Loss(m.Theta)
	tl := time.Since(start)
	start = time.Now()
	o.Grad(g, m.Theta)
	tg := time.Since(start)
	fmt.Printf("oracle: loss %.3f s, gradient %.3f s\n", tl.Seconds(), tg.Seconds())
	if measure > 0 {
		if err := timeMeasure(ctx, o, m.Theta, uint64(t.Seed), eps, iters, p, measure); err != nil {
			return err
		}
	}
	if !compare {
		return nil
	}
	fmt.Printf("%-5s %-7s %-16s %12s %6s %6s %6s %8s  %s\n", "space", "eps", "solver", "phi", "loss", "grad", "iters", "seconds", "status")
	type runSpec struct {
		solver flatness.KeskarSolver
		iters  int
	}
	solvers := []runSpec{{flatness.KeskarLBFGSB, iters}, {flatness.KeskarProjectedAscent, iters}}
	for _, sub := range []int{0, p} {
		for i, e := range eps {
			order := solvers
			if i%2 == 1 {
				order = []runSpec{solvers[1], solvers[0]}
			}
			if more > 0 {
				order = append(order, runSpec{flatness.KeskarLBFGSB, more})
			}
			for _, rs := range order {
				sv := rs.solver
				s := flatness.KeskarSettings{Epsilon: e, Subspace: sub, Iterations: rs.iters, Solver: sv}
				start := time.Now()
				r, err := flatness.KeskarSharpness(ctx, o, m.Theta, rand.New(rand.NewPCG(uint64(t.Seed), 4)), s)
				if err != nil {
					return err
				}
				space := "full"
				if sub > 0 {
					space = "sub"
				}
				fmt.Printf("%-5s %-7s %-16s %12.6g %6d %6d %6d %8.2f  %s\n", space, spec.EpsilonName(e), sv, r.Sharpness,
					r.LossEvals, r.Gradients, r.Iterations, time.Since(start).Seconds(), r.Status)
			}
		}
	}
	if pinv {
		return timePinv(m.Theta, p)
	}
	return nil
}

// timedOracle times and counts the gradient calls made through it.
// It also records the loss of every call.
type timedOracle struct {
	flatness.Oracle
	grads   int
	seconds float64
	losses  []float64
}

func (t *timedOracle) Grad(dst, theta []float64) float64 {
	start := time.Now()
	l := t.Oracle.Grad(dst, theta)
	t.seconds += time.Since(start).Seconds()
	t.grads++
	t.losses = append(t.losses, l)
	return l
}

// timeMeasure times the keskar measure as compute/measures.go runs it, reps
// times per space in alternating order, and prints the breakdown of each run
// and the subspace-to-full ratio of every pair.
func timeMeasure(ctx context.Context, o flatness.Oracle, theta []float64, seed uint64, eps []float64, iters, p, reps int) error {
	type cost struct{ build, grads, rest, total float64 }
	one := func(sub int) (cost, error) {
		to := &timedOracle{Oracle: o}
		start := time.Now()
		ks, err := flatness.NewKeskarSpace(theta, rand.New(rand.NewPCG(seed, 4)), sub)
		if err != nil {
			return cost{}, err
		}
		build := time.Since(start).Seconds()
		var phis, paths []string
		for _, e := range eps {
			to.losses = to.losses[:0]
			r, err := ks.Sharpness(ctx, to, nil, flatness.KeskarSettings{Epsilon: e, Subspace: sub, Iterations: iters})
			if err != nil {
				return cost{}, err
			}
			path := make([]string, len(to.losses))
			for i, l := range to.losses {
				path[i] = fmt.Sprintf("%.6g", 100*(l-r.Loss)/(1+r.Loss))
			}
			paths = append(paths, fmt.Sprintf("  φ after each gradient call, ε = %s: %s", spec.EpsilonName(e), strings.Join(path, " ")))
			phis = append(phis, fmt.Sprintf("φ(%s) = %.6g (%d gradients, %d iterations, %s, origin shared %v)",
				spec.EpsilonName(e), r.Sharpness, r.Gradients, r.Iterations, r.Status, r.OriginShared))
		}
		total := time.Since(start).Seconds()
		c := cost{build: build, grads: to.seconds, rest: total - build - to.seconds, total: total}
		fmt.Printf("measure p=%-3d %6.2f s: space %.2f s, %d gradients %.2f s, products and solver %.2f s; %s\n",
			sub, c.total, c.build, to.grads, c.grads, c.rest, strings.Join(phis, "; "))
		fmt.Println(strings.Join(paths, "\n"))
		return c, nil
	}
	var ratios []float64
	for k := range reps {
		order := []int{0, p}
		if k%2 == 1 {
			order = []int{p, 0}
		}
		var full, sub cost
		for _, d := range order {
			c, err := one(d)
			if err != nil {
				return err
			}
			if d == 0 {
				full = c
			} else {
				sub = c
			}
		}
		ratios = append(ratios, sub.total/full.total)
	}
	slices.Sort(ratios)
	fmt.Printf("measure: subspace/full seconds, median %.3f over %d pairs (min %.3f, max %.3f); load %s\n",
		ratios[len(ratios)/2], reps, ratios[0], ratios[len(ratios)-1], loadavg.String())
	return nil
}

// timePinv draws A as KeskarSharpness does and times A⁺θ both ways.
func timePinv(theta []float64, p int) error {
	P := len(theta)
	rng := rand.New(rand.NewPCG(1, 4))
	start := time.Now()
	raw := make([]float64, P*p)
	for i := range raw {
		raw[i] = rng.NormFloat64()
	}
	a := mat.NewDense(P, p, raw)
	tDraw := time.Since(start)

	start = time.Now()
	var g mat.SymDense
	g.SymOuterK(1, a.T())
	var ch mat.Cholesky
	if !ch.Factorize(&g) {
		return fmt.Errorf("the Cholesky factorization of AᵀA failed")
	}
	x := mat.NewVecDense(P, theta)
	var atx, z, res, corr mat.VecDense
	atx.MulVec(a.T(), x)
	if err := ch.SolveVecTo(&z, &atx); err != nil {
		return err
	}
	res.MulVec(a, &z)
	res.SubVec(x, &res)
	atx.MulVec(a.T(), &res)
	if err := ch.SolveVecTo(&corr, &atx); err != nil {
		return err
	}
	z.AddVec(&z, &corr)
	tCSNE := time.Since(start)

	start = time.Now()
	var svd mat.SVD
	if !svd.Factorize(a, mat.SVDThin) {
		return fmt.Errorf("SVD failed")
	}
	sv := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	var utx, w mat.VecDense
	utx.MulVec(u.T(), x)
	for i, s := range sv {
		utx.SetVec(i, utx.AtVec(i)/s)
	}
	w.MulVec(&v, &utx)
	tSVD := time.Since(start)

	// The two products of every evaluation in the subspace: δ = Ay, Aᵀ∇L.
	yv, gv := mat.NewVecDense(p, nil), mat.NewVecDense(P, nil)
	start = time.Now()
	const reps = 5
	for range reps {
		gv.MulVec(a, &z)
		yv.MulVec(a.T(), gv)
	}
	tProd := time.Since(start) / reps

	var worst float64
	for i := 0; i < p; i++ {
		worst = max(worst, math.Abs(z.AtVec(i)-w.AtVec(i))/max(math.Abs(w.AtVec(i)), 1e-300))
	}
	fmt.Printf("A (%d×%d): draw %.2f s; A⁺θ by refined normal equations %.2f s, by thin SVD %.2f s (ratio %.1f); cond(AᵀA) %.4g; max relative difference %.2g; Ay and Aᵀg %.3f s per evaluation\n",
		P, p, tDraw.Seconds(), tCSNE.Seconds(), tSVD.Seconds(), tSVD.Seconds()/tCSNE.Seconds(), ch.Cond(), worst, tProd.Seconds())
	return nil
}
