package spec

// PACBayesSettings configures the magnitude-aware PAC-Bayes flatness.
type PACBayesSettings struct {
	Target  float64 `json:"target,omitempty" default:"0.1" range:"(0,1]" doc:"largest allowed training-accuracy drop"`
	Samples int     `json:"samples,omitempty" default:"5" range:"[1,1048576]" doc:"noise draws per σ'"`
	Steps   int     `json:"steps,omitempty" default:"20" range:"[1,200]" doc:"bisection steps"`
}

var pacBayesMeasure = Measure{
	Name:    "pac_bayes",
	Summary: "Jiang et al.'s magnitude-aware PAC-Bayes flatness 1/σ'²",
	Doc: `The magnitude-aware PAC-Bayes flatness of Jiang et al. (2020): the largest
noise scale σ' such that perturbing every parameter by Gaussian noise of variance
σ'²θ_i² + 1e-6 lowers the training accuracy on the curvature examples by at most
target (mean over samples draws), found by steps bisection steps on a log scale in
[1e-6, 10] (at the ends of that bracket σ' is the bound). "pac_bayes_sigma" is σ'
and "pac_bayes_flatness" 1/σ'².`,
	Settings:       PACBayesSettings{},
	Records:        func(any) []string { return []string{"pac_bayes_sigma", "pac_bayes_flatness"} },
	Invariance:     NearlyInvariant,
	InvarianceNote: "the noise scales with |θ_i|, except for the constant 1e-6 in its variance.",
}
