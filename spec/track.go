package spec

import "fmt"

// Track units accepted in Track.Unit.
const (
	TrackEpoch = "epoch"
	TrackStep  = "step"
)

// Defaults of Track's settings, applied when a field is zero (and left out
// of the canonical form, so writing them changes no identity).
const (
	DefaultTrackExamples     = 128
	DefaultTrackLanczosSteps = 10
	DefaultTrackTol          = 5e-2
)

// Track configures the curvature measured along training: the top Hessian
// eigenvalue λ₁ of the loss over a fixed subset of the training examples
// (and optionally the top k eigenvalues and the trace) at the
// initialization, every Every epochs or updates, and at the end of
// training, stored as Result.Sharpness next to the per-epoch curve with the
// stability limit of the update rule (see SharpnessPoint).
//
// Each measurement is a Lanczos run on exact Hessian-vector products that
// starts from the previous measurement's top Ritz vector, so when the top
// eigenvector moves little between two measurements the first product
// already gives a Rayleigh quotient close to λ₁ and the run stops after few
// products. The first measurement starts from a random unit vector drawn
// from the trial seed. Runs stop when the Lanczos residual estimate |β_j s_j|
// of the Ritz pair is ≤ Tol·λ₁ or after LanczosSteps products; no product is
// spent on verification, so LambdaResidual is that estimate. The eigenvalue
// error of a Ritz value is at most of the order of residual²/gap, far below
// Tol·λ₁ once the top eigenvalue is separated.
//
// The Hessian is that of the unregularized loss (as for the final λ₁); with
// weight decay λ_wd the training objective's top eigenvalue is λ₁ + λ_wd.
// The zero value disables tracking.
type Track struct {
	// Every is the interval between measurements, in Unit (≥ 1; 0 disables
	// tracking).
	Every int `json:"every,omitempty"`
	// Unit is "epoch" (default) or "step": measurements after every Every-th
	// completed epoch, or before every Every-th update.
	Unit string `json:"unit,omitempty"`
	// Examples is the number of training examples of the tracking subset,
	// drawn once from the trial seed (default 128, capped at dataset.n;
	// -1 means the whole training set).
	Examples int `json:"examples,omitempty"`
	// LanczosSteps is the maximum number of Hessian-vector products per
	// measurement (default 10).
	LanczosSteps int `json:"lanczos_steps,omitempty"`
	// Tol is the relative residual tolerance of a measurement (default
	// 5e-2).
	Tol float64 `json:"tol,omitempty"`
	// TopK, if ≥ 2, also tracks the k largest eigenvalues (block-free
	// Lanczos for k eigenpairs, warm-started from the previous top vector).
	TopK int `json:"top_k,omitempty"`
	// TraceProbes, if > 0, also tracks tr(H) by Hutchinson's estimator with
	// that many Rademacher probes per measurement.
	TraceProbes int `json:"trace_probes,omitempty"`
}

// Enabled reports whether tracking is on.
func (k Track) Enabled() bool { return k.Every > 0 }

// WithDefaults returns k with the defaults of its zero fields applied and
// Examples resolved against a training set of n examples (the whole set
// when Examples is -1 or ≥ n).
func (k Track) WithDefaults(n int) Track {
	k.Unit = or(k.Unit, TrackEpoch)
	switch {
	case k.Examples == 0:
		k.Examples = min(DefaultTrackExamples, n)
	case k.Examples < 0 || k.Examples > n:
		k.Examples = n
	}
	k.LanczosSteps = or(k.LanczosSteps, DefaultTrackLanczosSteps)
	k.Tol = or(k.Tol, DefaultTrackTol)
	return k
}

// validate checks the tracking settings against a training set of n
// examples.
func (k Track) validate(n int) error {
	const f = "curvature.track."
	switch {
	case k == Track{}:
		return nil
	case k.Every < 1:
		return invalid(f+"every", k.Every, "must be ≥ 1: the interval between measurements, in track.unit (leave the track block out to measure at the end only)")
	case k.Unit != "" && k.Unit != TrackEpoch && k.Unit != TrackStep:
		return invalid(f+"unit", k.Unit, `must be "epoch" or "step"`)
	case k.Examples < -1 || k.Examples > n:
		return invalid(f+"examples", k.Examples, fmt.Sprintf("must be in 1…dataset.n (%d), or -1 for the whole training set (0: default %d)", n, DefaultTrackExamples))
	case k.LanczosSteps < 0 || k.LanczosSteps > MaxLanczosSteps:
		return invalid(f+"lanczos_steps", k.LanczosSteps, fmt.Sprintf("must be in [1, %d] (0: default %d)", MaxLanczosSteps, DefaultTrackLanczosSteps))
	case !finite(k.Tol) || k.Tol < 0:
		return invalid(f+"tol", k.Tol, fmt.Sprintf("must be finite and > 0 (0: default %g)", DefaultTrackTol))
	case k.TopK == 1 || k.TopK < 0 || k.TopK > MaxLanczosSteps:
		return invalid(f+"top_k", k.TopK, fmt.Sprintf("must be in [2, %d] (λ₁ alone is always tracked; 0: off)", MaxLanczosSteps))
	case k.TraceProbes < 0 || k.TraceProbes > maxTrackProbes:
		return invalid(f+"trace_probes", k.TraceProbes, fmt.Sprintf("must be in [0, %d]", maxTrackProbes))
	}
	return nil
}

// maxTrackProbes bounds Track.TraceProbes.
const maxTrackProbes = 1000

// StabilityLimit returns the largest curvature λ at which the update rule
// of o with learning rate ε = lr is stable on the quadratic ½λx², the edge
// of stability of Cohen et al. (2021):
//
//	plain SGD           x ← x − ελx                     stable iff λ < 2/ε
//	heavy ball β        v ← βv + λx, x ← x − εv          stable iff λ < (2 + 2β)/ε
//	Nesterov β          v ← βv + λx, x ← x − ε(λx + βv)  stable iff λ < (2 + 2β)/((1 + 2β)ε)
//
// (the iteration's characteristic polynomials are z² − (1 + β − ελ)z + β and
// z² − (1 + β)(1 − ελ)z + β(1 − ελ), whose roots leave the unit disc through
// z = −1 at those λ). Adam's limit depends on its preconditioner, so it
// returns 0 for Adam.
func StabilityLimit(o Optimizer, lr float64) float64 {
	if o.Name == OptimizerAdam || !(lr > 0) {
		return 0
	}
	b := o.Momentum
	if o.Nesterov {
		return (2 + 2*b) / ((1 + 2*b) * lr)
	}
	return (2 + 2*b) / lr
}
