package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// rcond is the relative singular-value cutoff of lstsq: directions of the
// design with σ < rcond·σ₁ are dropped (they carry no information).
const rcond = 1e-10

// lsFit is the result of a least-squares fit.
type lsFit struct {
	beta []float64 // coefficients (minimum-norm when rank-deficient)
	ssr  float64   // Σ residual²
	sst  float64   // Σ (y − ȳ)²
	rank int       // numerical rank of the design
	n    int       // observations
}

// df returns the residual degrees of freedom n − rank.
func (f lsFit) df() int { return f.n - f.rank }

// resVar returns the unbiased residual variance SSR/(n − rank), NaN without
// degrees of freedom.
func (f lsFit) resVar() float64 {
	if f.df() <= 0 {
		return math.NaN()
	}
	return f.ssr / float64(f.df())
}

// r2 returns 1 − SSR/SST (NaN when y is constant).
func (f lsFit) r2() float64 {
	if f.sst == 0 {
		return math.NaN()
	}
	return 1 - f.ssr/f.sst
}

// bic returns the Bayesian information criterion n ln(SSR/n) + rank·ln n of a
// fit with Gaussian residuals (up to a constant common to fits of the same y).
func (f lsFit) bic() float64 {
	n := float64(f.n)
	return n*math.Log(f.ssr/n) + float64(f.rank)*math.Log(n)
}

// lstsq solves min_β ‖Xβ − y‖₂ by the thin SVD X = UΣVᵀ, keeping the singular
// values above rcond·σ₁ (a minimum-norm solution when X is rank-deficient).
func lstsq(x *mat.Dense, y []float64) (lsFit, error) {
	n, _ := x.Dims()
	if n != len(y) {
		return lsFit{}, fmt.Errorf("lstsq: %d rows, %d values: %w", n, len(y), ErrLengthMismatch)
	}
	var svd mat.SVD
	if !svd.Factorize(x, mat.SVDThin) {
		return lsFit{}, fmt.Errorf("lstsq: SVD did not converge: %w", ErrTooFewPoints)
	}
	rank := svd.Rank(rcond)
	if rank == 0 {
		return lsFit{}, fmt.Errorf("lstsq: zero design: %w", ErrTooFewPoints)
	}
	yv := mat.NewVecDense(n, append([]float64(nil), y...))
	var b mat.VecDense
	svd.SolveVecTo(&b, yv, rank)
	var pred mat.VecDense
	pred.MulVec(x, &b)
	var ssr float64
	for i := range n {
		r := y[i] - pred.AtVec(i)
		ssr += r * r
	}
	mean := stat.Mean(y, nil)
	var sst float64
	for _, v := range y {
		sst += (v - mean) * (v - mean)
	}
	return lsFit{beta: mat.Col(nil, 0, &b), ssr: ssr, sst: sst, rank: rank, n: n}, nil
}

// polyDesign returns the design matrix of a polynomial of total degree ≤ deg
// in the columns vars[k] (each of length n): one column per monomial
// Π_k z_k^{e_k}, Σ e_k ≤ deg, with z_k = (v_k − mean)/sd the standardized
// variable (for conditioning; the fitted values are unchanged). The power of a
// variable is capped at its number of distinct values minus one, beyond which
// the column is collinear with lower powers. A constant variable contributes
// only the intercept.
func polyDesign(vars [][]float64, deg int) *mat.Dense {
	n := 0
	if len(vars) > 0 {
		n = len(vars[0])
	}
	z := make([][]float64, len(vars))
	caps := make([]int, len(vars))
	for k, v := range vars {
		mean, sd := stat.MeanStdDev(v, nil)
		if !(sd > 0) {
			sd = 1
		}
		z[k] = make([]float64, n)
		for i, x := range v {
			z[k][i] = (x - mean) / sd
		}
		caps[k] = min(distinct(v)-1, deg)
	}
	var exps [][]int
	var rec func(k, left int, cur []int)
	rec = func(k, left int, cur []int) {
		if k == len(vars) {
			exps = append(exps, append([]int(nil), cur...))
			return
		}
		for e := 0; e <= min(left, caps[k]); e++ {
			rec(k+1, left-e, append(cur, e))
		}
	}
	rec(0, deg, nil)
	x := mat.NewDense(max(n, 1), len(exps), nil)
	for i := range n {
		for j, e := range exps {
			v := 1.0
			for k, p := range e {
				v *= math.Pow(z[k][i], float64(p))
			}
			x.Set(i, j, v)
		}
	}
	return x
}

// distinct returns the number of distinct values of xs.
func distinct(xs []float64) int {
	seen := map[float64]bool{}
	for _, x := range xs {
		seen[x] = true
	}
	return len(seen)
}
