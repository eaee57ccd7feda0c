package spec

// Trace estimators accepted in TraceSettings.Method.
const (
	TraceHutchinson = "hutchinson"
	TraceHutchPP    = "hutchpp"
)

// TraceSettings configures the trace estimate.
type TraceSettings struct {
	Method string  `json:"method,omitempty" default:"hutchpp" enum:"hutchpp,hutchinson" flag:"trace-method" doc:"estimator: Hutch++ or Hutchinson"`
	Budget int     `json:"budget,omitempty" default:"99" range:"[1,1048576]" flag:"trace-budget" doc:"Hessian-vector products (≥ 3 for Hutch++)"`
	RelErr float64 `json:"rel_err,omitempty" range:"[0,inf)" doc:"stop once trace_se ≤ rel_err·|trace| (0: spend the whole budget)"`
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
spread of the Hutchinson part; left out with a single Hutchinson probe).`,
	Settings:       TraceSettings{},
	Records:        func(any) []string { return []string{"trace", "trace_se"} },
	Invariance:     NotInvariant,
	InvarianceNote: "T_α scales the trace of the Hessian blocks by α⁻² and α².",
	Check: func(s any, _ Architecture) error {
		t := s.(TraceSettings)
		if t.Budget != 0 && t.Budget < 3 && (t.Method == "" || t.Method == TraceHutchPP) {
			return invalid("budget", t.Budget, "Hutch++ needs at least 3 products (a sketch column, its projection and a probe)")
		}
		return nil
	},
}
