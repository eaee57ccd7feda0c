package spec

// Norms accepted in AdaptiveSettings.Norm.
const (
	NormL2   = "l2"
	NormLInf = "linf"
)

// AdaptiveSettings configures worst- and average-case adaptive sharpness.
type AdaptiveSettings struct {
	Rho        float64 `json:"rho,omitempty" default:"0.05" range:"(0,inf)" flag:"rho" doc:"radius ρ"`
	Norm       string  `json:"norm,omitempty" default:"l2" enum:"l2,linf" doc:"worst-case ball: ℓ2 or ℓ∞"`
	Plain      bool    `json:"plain,omitempty" doc:"plain sharpness (c = 1) instead of adaptive (c = |θ|)"`
	Iterations int     `json:"iterations,omitempty" default:"10" range:"[1,1048576]" doc:"worst-case ascent iterations"`
	Samples    int     `json:"samples,omitempty" default:"20" range:"[2,1048576]" doc:"Monte Carlo draws of the average case"`
}

var adaptiveMeasure = Measure{
	Name:    "adaptive",
	Summary: "worst- and average-case adaptive sharpness (Kwon et al., Andriushchenko et al.)",
	Doc: `Worst case S_max = max_{‖δ ⊙ c⁻¹‖_p ≤ ρ} L(θ + δ) − L(θ), by iterations steps of
projected gradient ascent ("adaptive_sharpness"), and average case S_avg =
E_{δ ~ N(0, ρ² diag(c²))} [L(θ + δ) − L(θ)], by samples Monte Carlo draws
("adaptive_sharpness_avg", with its standard error "adaptive_sharpness_avg_se"),
with c = |θ| (adaptive; Kwon et al. 2021, Andriushchenko et al. 2023). With plain
the same quantities use c = 1 and are stored as "plain_sharpness",
"plain_sharpness_avg" and "plain_sharpness_avg_se".`,
	Settings: AdaptiveSettings{},
	Records: func(s any) []string {
		name := "adaptive_sharpness"
		if s.(AdaptiveSettings).Plain {
			name = "plain_sharpness"
		}
		return []string{name, name + "_avg", name + "_avg_se"}
	},
	Invariance: DependsOnSettings,
	InvarianceNote: "with c = |θ| the perturbation set moves with T_α, so the exact maximum and average are " +
		"invariant (the finite ascent only approximately); plain sharpness (c = 1) is not invariant.",
}
