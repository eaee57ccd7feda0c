package spec

import (
	"fmt"
	"strconv"
)

// TopKSettings configures the extreme Hessian eigenvalues.
type TopKSettings struct {
	K        int     `json:"k,omitempty" default:"5" range:"[1,1048576]" flag:"k" doc:"number of largest eigenvalues (the default is capped at P)"`
	Negative int     `json:"negative,omitempty" range:"[0,1048576]" flag:"negative" doc:"number of most negative eigenvalues, from the same Lanczos run"`
	Tol      float64 `json:"tol,omitempty" default:"1e-3" range:"(0,inf)" flag:"tol" doc:"relative residual tolerance ‖Hy − θy‖ ≤ tol·|θ|"`
	Steps    int     `json:"steps,omitempty" default:"100" range:"[1,10000]" doc:"Lanczos step budget (the run takes at most the larger of this and curvature.lanczos_steps)"`
}

var topKMeasure = Measure{
	Name:    "top_k",
	Summary: "the K largest and the most negative Hessian eigenvalues (Lanczos)",
	Doc: `Lanczos with full reorthogonalization on exact Hessian-vector products,
started from the random unit vector of λ₁ (drawn from the trial seed) and
restarted with fresh random directions when it finds an invariant subspace.
One run gives λ₁, the K largest and the most negative eigenvalues: the
Krylov space approximates both ends of the spectrum at once, so the run
stops when every wanted pair has converged, after as many products as the
slowest end needs rather than the sum of separate runs. A Ritz pair (θ, y)
has converged when ‖Hy − θy‖ ≤ tol·|θ|; λ₁ must also meet curvature.tol.
The residuals are the Lanczos residuals |β_j e_jᵀ s|, which full
reorthogonalization keeps equal to ‖Hy − θy‖ to rounding, so no product is
spent verifying them (λ₁'s residual included) and the run's products are
its steps. The relative residual tol bounds each value's error only
loosely: the error of a Ritz value is of the order of the squared residual
over the gap to the rest of the spectrum (at tol 1e-3 about 1e-6 relative on
the benchmark's network, docs/BENCHMARKS.md). The trial's λ₁ (lambda_max) is "lambda_1",
bit for bit. "lambda_1" ≥ … ≥ "lambda_K" are the K largest eigenvalues;
with negative > 0, "lambda_min_1" ≤ "lambda_min_2" ≤ … are the most
negative ones (negative curvature shows the end point is not a minimum).
"top_k_converged" and "lambda_min_converged" are 1 when every wanted pair
met the tolerance, 0 otherwise. PyHessian's power iteration with deflation
finds the same eigenvalues with several times more products.`,
	Settings: TopKSettings{},
	Records: func(s any) []string {
		t := s.(TopKSettings)
		out := numbered("lambda_", t.K)
		out = append(out, "top_k_converged")
		if t.Negative > 0 {
			out = append(out, numbered("lambda_min_", t.Negative)...)
			out = append(out, "lambda_min_converged")
		}
		return out
	},
	Invariance:     NotInvariant,
	InvarianceNote: "T_α rescales blocks of the Hessian by α⁻² and α², so its eigenvalues change with α.",
	Check: func(s any, a Architecture) error {
		t := s.(TopKSettings)
		if t.K > a.Params {
			return invalid("k", t.K, fmt.Sprintf("must be ≤ P = %d, the number of parameters", a.Params))
		}
		if t.Negative > a.Params {
			return invalid("negative", t.Negative, fmt.Sprintf("must be ≤ P = %d, the number of parameters", a.Params))
		}
		return nil
	},
}

// numbered returns prefix+"1", …, prefix+"n", abbreviated to the first two,
// "…" and the last when n > 4.
func numbered(prefix string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		if n > 4 && i > 2 && i < n {
			if i == 3 {
				out = append(out, "…")
			}
			continue
		}
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}
