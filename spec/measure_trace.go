package spec

import "fmt"

// Trace estimators accepted in TraceSettings.Method.
const (
	TraceHutchinson = "hutchinson"
	TraceHutchPP    = "hutchpp"
	TraceKrylov     = "krylov"
)

// TraceSettings configures the trace estimate.
type TraceSettings struct {
	Method string  `json:"method,omitempty" default:"hutchpp" enum:"hutchpp,hutchinson,krylov" flag:"trace-method" doc:"estimator: Hutch++, Hutchinson, or krylov (Hutch++ deflated by the Krylov basis of λ₁'s Lanczos run, reused without products)"`
	Budget int     `json:"budget,omitempty" default:"99" range:"[1,1048576]" flag:"trace-budget" doc:"Hessian-vector products (≥ 3 for Hutch++; for krylov those continuing the Lanczos run to krylov_rank, then probes of the deflated remainder)"`
	RelErr float64 `json:"rel_err,omitempty" range:"[0,inf)" doc:"stop once trace_se ≤ rel_err·|trace| (0: spend the whole budget)"`
	// KrylovRank is, for method krylov, the least number of vectors of the
	// deflating basis: λ₁'s Lanczos run is continued to it, one product per
	// vector, taken from the budget.
	KrylovRank int `json:"krylov_rank,omitempty" range:"[0,10000]" doc:"krylov only: continue λ₁'s Lanczos run until its basis has this many vectors, one product each from the budget (at most budget − 2, leaving two probes for trace_se; 0: the run as it stopped)"`
	// Precision is the arithmetic of the trace's own products: float64, or
	// float32 with float64 accumulation (nn.Hessian32), about twice as fast,
	// for MLPs of Dense, ReLU and tanh layers.
	Precision string `json:"precision,omitempty" default:"float64" enum:"float64,float32" doc:"arithmetic of the trace's own products: float64, or float32 with float64 accumulation (MLPs only; about 2× faster per product, relative error of order 1e-5, far below trace_se)"`
}

var traceMeasure = Measure{
	Name:    "trace",
	Summary: "tr(H) by Hutchinson or Hutch++, with its standard error",
	Doc: `Hutchinson's estimator tr(H) ≈ mean vᵀHv over Rademacher vectors v has
variance 2(‖H‖²_F − Σ H_ii²)/n for n probes. Hutch++ (Meyer et al. 2021) spends a
third of the budget on a sketch S = HΩ, a third on projecting it (tr(QᵀHQ) for an
orthonormal basis Q of S) and a third on Hutchinson on the deflated remainder
(I − QQᵀ)H(I − QQᵀ): for a matrix with a few large eigenvalues, as Hessians of
trained networks have, it reaches a relative error δ with O(1/δ) products instead
of O(1/δ²). "trace" is the estimate and "trace_se" its standard error (from the
spread of the Hutchinson part; left out with a single Hutchinson probe).

Method krylov (Krylov-aware Hutch++, after Chen & Hallman 2023) reuses the
Lanczos run that λ₁ makes in every trial (top_k's run when top_k is
selected): its orthonormal basis Q of m vectors satisfies QᵀHQ = T, the
run's tridiagonal, so tr(QᵀHQ) = tr(T) costs no product, and the budget
goes to Hutchinson probes of the deflated remainder (I − QQᵀ)H(I − QQᵀ).
The Lanczos space has converged onto the top eigenvectors, so it deflates
the outlying eigenvalues as Hutch++'s sketch does, without the sketch's two
thirds of the products. The estimate is unbiased given Q, which depends
only on λ₁'s start vector, not on the probes. With krylov_rank > m the run is first continued (from where it
stopped, full reorthogonalization) until the basis has krylov_rank vectors,
one product each, taken from the budget: a Lanczos vector deflates one more
direction of the top of the spectrum for one product, where a Hutch++
sketch column costs two. "trace_krylov_rank" is the number of basis vectors
deflated (λ₁'s run stops when λ₁ converges, top_k's when every wanted pair
has, so top_k's is usually the larger basis); the products are the trace's
entry of the result's costs. On keskar-f1 (docs/BENCHMARKS.md, "Whole
trial") budget 50 with krylov_rank 30 matches the standard error of Hutch++
at 99. Example (YAML): curvature: {measures: [top_k, trace], trace:
{method: krylov, budget: 50, krylov_rank: 30}}.

Precision float32 computes the trace's own products (Hutch++'s sketch, its
projection and probes; krylov's continuation of the run and its probes) in
single precision with float64 accumulation (the activations, backward state and
matrix products in float32, the softmax, bias sums and the sum over chunks in
float64), about twice as fast as float64; the Lanczos run of λ₁ and top_k stays
float64. A float32 product is within a few 1e-5 (relative) of the float64 one,
and a probe's vᵀHv within 1e-5, where trace_se is typically 1e-3–1e-2 of the
trace: the rounding is two to three orders of magnitude below the estimator's
own error (on keskar-f1 the trace moved by 6e-8 of its value, 1e-5 of trace_se,
and took 4.5 s instead of 7.7 s; docs/BENCHMARKS.md, "float32 trace products"). It supports MLPs of dense, relu and tanh layers (no batchnorm,
dropout, convolutions or residual blocks).`,
	Settings: TraceSettings{},
	Records: func(s any) []string {
		if s.(TraceSettings).Method == TraceKrylov {
			return []string{"trace", "trace_se", "trace_krylov_rank"}
		}
		return []string{"trace", "trace_se"}
	},
	Invariance:     NotInvariant,
	InvarianceNote: "T_α scales the trace of the Hessian blocks by α⁻² and α².",
	Check: func(s any, a Architecture) error {
		t := s.(TraceSettings)
		if t.Budget != 0 && t.Budget < 3 && (t.Method == "" || t.Method == TraceHutchPP) {
			return invalid("budget", t.Budget, "Hutch++ needs at least 3 products (a sketch column, its projection and a probe)")
		}
		if t.KrylovRank > 0 && t.Method != TraceKrylov {
			return invalid("krylov_rank", t.KrylovRank, "applies to method krylov only")
		}
		if t.Precision == PrecisionFloat32 {
			for _, l := range a.Layers {
				switch l.Kind {
				case LayerDense, LayerReLU, LayerTanh:
				default:
					return invalid("precision", t.Precision, fmt.Sprintf("float32 products support networks of dense, relu and tanh layers only, and this one has a %s layer", l.Kind))
				}
			}
		}
		return nil
	},
}
