package train

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
)

// OptimizerKind selects the update rule.
type OptimizerKind int

const (
	// KindSGD is minibatch SGD, with optional (heavy-ball or Nesterov)
	// momentum.
	KindSGD OptimizerKind = iota
	// KindAdam is Adam (Kingma & Ba 2015), the optimizer of Keskar et al.
	KindAdam
)

// Adam defaults, used when the corresponding Optimizer field is zero
// (Kingma & Ba's values, also PyTorch's).
const (
	DefaultBeta1 = 0.9
	DefaultBeta2 = 0.999
	DefaultEps   = 1e-8
)

// Optimizer configures the update rule. The zero value is plain SGD.
//
// SGD with momentum m uses the heavy-ball convention of PyTorch (dampening 0),
// with the velocity v starting at 0 and g the minibatch gradient:
//
//	v ← m v + g
//	θ ← θ − ε v              (heavy ball)
//	θ ← θ − ε (g + m v)      (Nesterov, with the updated v)
//
// With this convention a constant gradient moves θ by ε g/(1 − m) per step in
// the long run, so the effective learning rate is ε/(1 − m) and the SGD noise
// scale of Smith & Le is g_noise = εN/(B(1 − m)). m = 0 is plain SGD,
// θ ← θ − ε g.
//
// Adam keeps exponential moving averages of the gradient and its square,
// with bias correction (t counts the steps from 1):
//
//	m₁ ← β₁ m₁ + (1 − β₁) g,   m₂ ← β₂ m₂ + (1 − β₂) g ⊙ g
//	θ ← θ − ε m̂ / (√v̂ + eps),  m̂ = m₁/(1 − β₁ᵗ),  v̂ = m₂/(1 − β₂ᵗ)
//
// Weight decay, when used, is part of the objective (nn.Network's L2 penalty)
// and hence of g: it is coupled L2 regularization as in PyTorch's SGD and Adam
// weight_decay, not AdamW's decoupled decay.
type Optimizer struct {
	Kind OptimizerKind
	// Momentum is m ∈ [0, 1) (SGD only).
	Momentum float64
	// Nesterov selects Nesterov momentum (SGD only; needs Momentum > 0).
	Nesterov bool
	// Beta1, Beta2 ∈ [0, 1) and Eps > 0 are Adam's parameters (0: the
	// defaults DefaultBeta1, DefaultBeta2, DefaultEps).
	Beta1, Beta2, Eps float64
}

func (o Optimizer) validate() error {
	in01 := func(x float64) bool { return x >= 0 && x < 1 }
	switch {
	case o.Kind != KindSGD && o.Kind != KindAdam:
		return fmt.Errorf("%w: unknown optimizer kind %d", ErrConfig, o.Kind)
	case !in01(o.Momentum):
		return fmt.Errorf("%w: momentum %v not in [0, 1)", ErrConfig, o.Momentum)
	case o.Nesterov && o.Momentum == 0:
		return fmt.Errorf("%w: Nesterov momentum needs momentum > 0", ErrConfig)
	case o.Kind == KindAdam && (o.Momentum != 0 || o.Nesterov):
		return fmt.Errorf("%w: Adam takes beta1, not momentum", ErrConfig)
	case !in01(o.Beta1) || !in01(o.Beta2):
		return fmt.Errorf("%w: Adam betas (%v, %v) not in [0, 1)", ErrConfig, o.Beta1, o.Beta2)
	case !(o.Eps >= 0) || math.IsInf(o.Eps, 0):
		return fmt.Errorf("%w: Adam eps %v", ErrConfig, o.Eps)
	case o.Kind == KindSGD && (o.Beta1 != 0 || o.Beta2 != 0 || o.Eps != 0):
		return fmt.Errorf("%w: beta1, beta2 and eps are Adam parameters", ErrConfig)
	}
	return nil
}

// Updater applies the update rule of an Optimizer to a parameter vector,
// keeping the optimizer state (velocity or Adam moments) between steps. The
// state starts at zero, also when θ is warm-started: only the parameters are
// carried over, as when a PyTorch run is restarted from a state_dict.
type Updater struct {
	opt    Optimizer
	v, m2  []float64 // velocity (SGD) or first moment (Adam); second moment
	t      int       // steps taken
	b1, b2 float64   // resolved Adam betas
	eps    float64
}

// NewUpdater returns an Updater for p parameters.
func NewUpdater(opt Optimizer, p int) (*Updater, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	if p < 0 {
		return nil, fmt.Errorf("%w: %d parameters", ErrConfig, p)
	}
	u := &Updater{opt: opt}
	switch {
	case opt.Kind == KindAdam:
		u.v, u.m2 = make([]float64, p), make([]float64, p)
		u.b1, u.b2, u.eps = orDefault(opt.Beta1, DefaultBeta1), orDefault(opt.Beta2, DefaultBeta2), orDefault(opt.Eps, DefaultEps)
	case opt.Momentum > 0:
		u.v = make([]float64, p)
	}
	return u, nil
}

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// Steps returns the number of updates applied so far.
func (u *Updater) Steps() int { return u.t }

// Step updates θ in place with the gradient g and learning rate ε (see
// Optimizer for the rules). theta and grad must have the Updater's length.
func (u *Updater) Step(theta, grad []float64, lr float64) {
	u.t++
	switch {
	case u.opt.Kind == KindAdam:
		c1 := 1 - math.Pow(u.b1, float64(u.t))
		c2 := 1 - math.Pow(u.b2, float64(u.t))
		for i, g := range grad {
			u.v[i] = u.b1*u.v[i] + (1-u.b1)*g
			u.m2[i] = u.b2*u.m2[i] + (1-u.b2)*g*g
			theta[i] -= lr * (u.v[i] / c1) / (math.Sqrt(u.m2[i]/c2) + u.eps)
		}
	case u.v == nil:
		floats.AddScaled(theta, -lr, grad)
	case u.opt.Nesterov:
		m := u.opt.Momentum
		for i, g := range grad {
			u.v[i] = m*u.v[i] + g
			theta[i] -= lr * (g + m*u.v[i])
		}
	default:
		m := u.opt.Momentum
		for i, g := range grad {
			u.v[i] = m*u.v[i] + g
			theta[i] -= lr * u.v[i]
		}
	}
}
