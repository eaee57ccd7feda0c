package spec

// DensitySettings configures the SLQ spectral density.
type DensitySettings struct {
	Runs  int `json:"runs,omitempty" default:"5" range:"[1,1048576]" flag:"density-runs" doc:"Rademacher start vectors"`
	Steps int `json:"steps,omitempty" default:"30" range:"[1,10000]" flag:"density-steps" doc:"Lanczos steps per run"`
}

var densityMeasure = Measure{
	Name:    "density",
	Summary: "the Hessian's spectral density by stochastic Lanczos quadrature",
	Doc: `Stochastic Lanczos quadrature (Ghorbani et al. 2019): runs Lanczos runs of
steps steps from Rademacher vectors; run r has nodes θ_{r,j} (its Ritz values) and
weights τ²_{r,j} (squared first components of the tridiagonal's eigenvectors,
summing to 1). The density is ρ(t) = P·mean_r Σ_j τ²_{r,j} N(t; θ_{r,j}, σ²) with
σ² = 1e-5·max(1, λ_max − λ_min), and tr f(H) ≈ P·mean_r Σ_j τ²_{r,j} f(θ_{r,j}). It
is stored as Result.Density (nodes and weights per run), not as scalars, and is
not recomputed by Dinh's check. Its runs are its own and do not reuse the
Lanczos run of λ₁ and top_k: that run starts from a random unit vector too
(normalized Gaussian, an unbiased probe since E[vvᵀ] = I/P), but it stops
once its Ritz pairs converge, usually before the steps a quadrature takes,
continuing it would make the density depend on whether top_k is selected
and on its tolerance, and it would save at most one run of runs.`,
	Settings:       DensitySettings{},
	Records:        func(any) []string { return nil },
	Invariance:     NotInvariant,
	InvarianceNote: "the spectrum itself changes under T_α.",
}
