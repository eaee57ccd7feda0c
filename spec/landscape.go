package spec

import "fmt"

// Bias modes of a filter-normalized direction (see LandscapeSettings.Bias).
const (
	// BiasZero sets the bias entries of each direction to zero, as Li et
	// al. (2018) do for biases and batch-normalization parameters.
	BiasZero = "zero"
	// BiasNormalize draws the bias entries like the weights and rescales
	// the bias vector of each layer as one filter: d_b ← d_b/‖d_b‖·‖θ_b‖.
	BiasNormalize = "normalize"
)

// Defaults of the landscape settings (see LandscapeSettings), applied to
// zero values when a trial runs and left out of the canonical form.
const (
	DefaultLandscapePoints1D = 51
	DefaultLandscapePoints2D = 21
	DefaultLandscapeExtent   = 1.0
	DefaultLandscapeExamples = 1000
	DefaultLandscapeBias     = BiasZero
	// MaxLandscapePoints bounds Points (a 2-D grid of 201 × 201 points
	// is 40,401 evaluations).
	MaxLandscapePoints = 201
)

// LandscapeSettings configures the loss landscape a trial records after
// training (curvature.landscape): the mean loss and the accuracy on a grid
// of parameters around the final θ along filter-normalized random
// directions (Li et al. 2018, arXiv 1712.09913),
//
//	1-D:  L(θ + a·d₁),           a ∈ {−e, …, e}
//	2-D:  L(θ + a·d₁ + b·d₂),    a, b ∈ {−e, …, e}
//
// with Points equally spaced values from −Extent = −e to e on each axis.
// Each direction d is drawn from N(0, I) with the shape of θ (from the trial
// seed) and each filter f of it — a row of a Dense layer's weight matrix,
// the weights into one output unit, or one output channel of a Conv2D layer
// — is rescaled to the norm of the same filter of θ:
//
//	d_f ← d_f/‖d_f‖ · ‖θ_f‖,
//
// so that the slice is comparable across networks whose weights differ in
// scale. Bias entries follow Bias. d₂ is drawn independently of d₁ (random
// high-dimensional vectors are nearly orthogonal). The values are taken over
// fixed subsets of Examples training and TestExamples test examples drawn
// from the trial seed, and stored in Result.Landscape.
//
// The zero value disables the landscape; Dims is required when the block is
// given. Zero fields take their defaults, and a field equal to its default
// does not change the trial's identity.
type LandscapeSettings struct {
	// Dims is 1 (a line through θ along d₁) or 2 (a plane along d₁ and d₂).
	Dims int `json:"dims,omitempty"`
	// Points is the number of grid values per axis, ≥ 2 (default 51 for
	// Dims 1, 21 for Dims 2: 441 evaluations), at most MaxLandscapePoints.
	Points int `json:"points,omitempty"`
	// Extent is e > 0: the grid spans [−e, e] on each axis (default 1, the
	// filter norms of θ at the ends).
	Extent float64 `json:"extent,omitempty"`
	// Examples is the number of training examples evaluated (default 1000,
	// or the whole training set when it is smaller).
	Examples int `json:"examples,omitempty"`
	// TestExamples is the number of test examples evaluated (default 1000,
	// or the whole test set when it is smaller).
	TestExamples int `json:"test_examples,omitempty"`
	// Bias is "zero" (default: bias entries of the directions are 0) or
	// "normalize" (each layer's bias vector is rescaled as one filter).
	Bias string `json:"bias,omitempty"`
}

// WithDefaults returns s with every zero field set to its default (s itself
// when the landscape is disabled).
func (s LandscapeSettings) WithDefaults() LandscapeSettings {
	if s == (LandscapeSettings{}) {
		return s
	}
	pts := DefaultLandscapePoints1D
	if s.Dims == 2 {
		pts = DefaultLandscapePoints2D
	}
	s.Points = or(s.Points, pts)
	s.Extent = or(s.Extent, DefaultLandscapeExtent)
	s.Examples = or(s.Examples, DefaultLandscapeExamples)
	s.TestExamples = or(s.TestExamples, DefaultLandscapeExamples)
	s.Bias = or(s.Bias, DefaultLandscapeBias)
	return s
}

// Normalized returns s with every field equal to its default set to zero,
// the canonical form (see Trial.Resolved).
func (s LandscapeSettings) Normalized() LandscapeSettings {
	if s == (LandscapeSettings{}) {
		return s
	}
	d := s.WithDefaults()
	def := LandscapeSettings{Dims: s.Dims}.WithDefaults()
	if d.Points == def.Points {
		s.Points = 0
	}
	if d.Extent == def.Extent {
		s.Extent = 0
	}
	if d.Examples == def.Examples {
		s.Examples = 0
	}
	if d.TestExamples == def.TestExamples {
		s.TestExamples = 0
	}
	if d.Bias == def.Bias {
		s.Bias = ""
	}
	return s
}

// Validate checks the settings as given (zero fields meaning their
// defaults): Dims 1 or 2, Points in [2, MaxLandscapePoints], Extent finite
// and > 0, Examples and TestExamples ≥ 0 and at most the sizes n and nTest
// of the training and test sets, Bias "zero" or "normalize". Errors are
// *FieldError values naming the field under "curvature.landscape".
func (s LandscapeSettings) Validate(n, nTest int) error {
	const f = "curvature.landscape."
	switch {
	case s == (LandscapeSettings{}):
		return nil
	case s.Dims == 0:
		return missing(f+"dims", "1 (a line along one direction) or 2 (a plane along two)")
	case s.Dims != 1 && s.Dims != 2:
		return invalid(f+"dims", s.Dims, "must be 1 or 2")
	case s.Points < 0 || s.Points == 1 || s.Points > MaxLandscapePoints:
		return invalid(f+"points", s.Points, fmt.Sprintf("must be in [2, %d] (0: default %d for dims 1, %d for dims 2)",
			MaxLandscapePoints, DefaultLandscapePoints1D, DefaultLandscapePoints2D))
	case !finite(s.Extent) || s.Extent < 0:
		return invalid(f+"extent", s.Extent, fmt.Sprintf("must be finite and > 0: a grid of zero or negative extent has no points (0: default %g)", DefaultLandscapeExtent))
	case s.Examples < 0 || (n > 0 && s.Examples > n):
		return invalid(f+"examples", s.Examples, fmt.Sprintf("must be in 0…dataset.n (%d); 0 means %d or the whole training set when smaller", n, DefaultLandscapeExamples))
	case s.TestExamples < 0 || (nTest > 0 && s.TestExamples > nTest):
		return invalid(f+"test_examples", s.TestExamples, fmt.Sprintf("must be in 0…dataset.n_test (%d); 0 means %d or the whole test set when smaller", nTest, DefaultLandscapeExamples))
	case s.Bias != "" && s.Bias != BiasZero && s.Bias != BiasNormalize:
		return invalid(f+"bias", s.Bias, `must be "zero" or "normalize"`)
	}
	return nil
}
