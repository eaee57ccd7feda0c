package spec

// Curvature operators accepted in EvidenceSettings.Operator.
const (
	OperatorHessian     = "hessian"
	OperatorGaussNewton = "gauss_newton"
)

// EvidenceSettings configures the Laplace evidence.
type EvidenceSettings struct {
	Lambda   float64 `json:"lambda,omitempty" default:"1" range:"(0,inf)" flag:"lambda" doc:"prior precision λ (L2 strength of the summed cost)"`
	Operator string  `json:"operator,omitempty" default:"gauss_newton" enum:"gauss_newton,hessian" flag:"operator" doc:"curvature of the mean loss: Gauss–Newton (PSD) or the exact Hessian"`
	Runs     int     `json:"runs,omitempty" default:"5" range:"[1,1048576]" doc:"SLQ runs of the log-determinant"`
	Steps    int     `json:"steps,omitempty" default:"30" range:"[1,10000]" doc:"Lanczos steps per SLQ run"`
}

var evidenceMeasure = Measure{
	Name:    "evidence",
	Summary: "Smith & Le's Laplace evidence and Occam factor",
	Doc: `The Bayesian evidence of Smith & Le (2018) in the Laplace approximation, with
prior precision λ on the regularized summed cost C(θ) = M·L(θ) + (λ/2)‖θ‖² over the
M curvature examples: log P(y|x) ≈ −C(θ) − ½ Σ_i ln(λ_i/λ), where λ_i are the
eigenvalues of ∇²C = M·K + λI. "log_evidence" is that value, "log_occam" = −½ Σ
ln(λ_i/λ) the log Occam factor (sharp minima, with large λ_i, are penalized),
"log_occam_se" its SLQ standard error and "log_det" = Σ ln λ_i = log det ∇²C. The
sum of logarithms is a log-determinant estimated by stochastic Lanczos quadrature
(see density). K is the Gauss–Newton matrix Jᵀ H_out J by default, which is
positive semidefinite; with the exact Hessian, Ritz values below λ (possible away
from an exact minimum) are clipped to λ and "occam_clipped" reports the fraction of
spectral weight that was clipped (0 with Gauss–Newton).`,
	Settings: EvidenceSettings{},
	Records: func(any) []string {
		return []string{"log_evidence", "log_occam", "log_occam_se", "log_det", "occam_clipped"}
	},
	Invariance:     NotInvariant,
	InvarianceNote: "the prior (λ/2)‖θ‖² and the Hessian both change under T_α.",
}
