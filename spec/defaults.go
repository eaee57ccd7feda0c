package spec

// Defaults of the optional fields of a trial spec, the one place they are
// written. Two kinds exist, and Trial.Resolved applies both:
//
//   - defaults that are part of the canonical form, filled in when a field is
//     omitted: dataset.features 16 and dataset.classes 4 (synthetic data
//     only), model.activation "relu", curvature.lanczos_steps 20 and
//     curvature.tol 1e-3;
//   - defaults that are left out of it, so that writing them changes no
//     identity: optimizer.name "sgd", schedule.lr.kind "constant",
//     model.loss "ce", partial_batch "drop", eval_every 1, precision
//     "float64", sam.eta 0.01,
//     every measure setting equal to its default (see Measure) and every
//     curvature.landscape setting equal to its default (see
//     LandscapeSettings), which are stored as their zero value.
//
// Adam's β₁ 0.9, β₂ 0.999 and eps 1e-8 apply to zero values when a trial
// runs (Trial.WithDefaults) and are never stored.
const (
	DefaultFeatures     = 16
	DefaultClasses      = 4
	DefaultActivation   = ActivationReLU
	DefaultLanczosSteps = 20
	DefaultTol          = 1e-3
	DefaultBeta1        = 0.9
	DefaultBeta2        = 0.999
	DefaultAdamEps      = 1e-8
	DefaultSAMEta       = 0.01
)

// Resolved returns the trial in canonical form: the defaults that are part
// of the canonical form filled in, and the defaults that are not set to their
// zero value (see the Default constants). Two specs that differ only in
// writing defaults out have the same resolved form.
func (t Trial) Resolved() Trial {
	if t.Dataset.Name == DatasetSynthetic {
		t.Dataset.Features = or(t.Dataset.Features, DefaultFeatures)
		t.Dataset.Classes = or(t.Dataset.Classes, DefaultClasses)
	}
	t.Model.Activation = or(t.Model.Activation, DefaultActivation)
	t.Curvature.LanczosSteps = or(t.Curvature.LanczosSteps, DefaultLanczosSteps)
	t.Curvature.Tol = or(t.Curvature.Tol, DefaultTol)
	t.Curvature.Measures = t.Curvature.Measures.Normalized()
	t.Curvature.Landscape = t.Curvature.Landscape.Normalized()
	if t.Optimizer.Name == OptimizerSGD {
		t.Optimizer.Name = ""
	}
	if t.Schedule.LR.Kind == ScheduleConstant {
		t.Schedule.LR.Kind = ""
	}
	if t.Model.Loss == LossCE {
		t.Model.Loss = ""
	}
	if t.SAM.Adaptive && t.SAM.Eta == DefaultSAMEta {
		t.SAM.Eta = 0
	}
	if t.PartialBatch == PartialDrop {
		t.PartialBatch = ""
	}
	if t.EvalEvery == 1 {
		t.EvalEvery = 0
	}
	if t.Precision == PrecisionFloat64 {
		t.Precision = ""
	}
	return t
}

// WithDefaults returns the trial with every default filled in, as it runs:
// Resolved, then Adam's β₁, β₂ and eps for an Adam optimizer, ASAM's η for
// adaptive SAM, and the names
// of the defaults left out of the canonical form (optimizer "sgd", schedule
// "constant", loss "ce"). Measure settings keep their zero values: use
// SettingsOf, which applies their defaults.
func (t Trial) WithDefaults() Trial {
	t = t.Resolved()
	t.Optimizer.Name = or(t.Optimizer.Name, OptimizerSGD)
	t.Schedule.LR.Kind = or(t.Schedule.LR.Kind, ScheduleConstant)
	t.Model.Loss = or(t.Model.Loss, LossCE)
	if t.Optimizer.Name == OptimizerAdam {
		t.Optimizer.Beta1 = or(t.Optimizer.Beta1, DefaultBeta1)
		t.Optimizer.Beta2 = or(t.Optimizer.Beta2, DefaultBeta2)
		t.Optimizer.Eps = or(t.Optimizer.Eps, DefaultAdamEps)
	}
	if t.SAM.Adaptive {
		t.SAM.Eta = or(t.SAM.Eta, DefaultSAMEta)
	}
	return t
}

// or returns v, or def when v is the zero value.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
