package train

import (
	"fmt"
	"math"

	"github.com/flatsweep/flatsweep/compute/nn"
	"gonum.org/v1/gonum/blas/blas32"
)

// Precision selects the arithmetic of the updates (Config.Precision).
//
// With Float32 the parameters live in float32 during training: θ is
// rounded to float32 (to nearest) before the first evaluation, every
// minibatch gradient is computed by the network's float32 path (nn.Net32:
// float32 activations, gradients and Sgemm products, with the per-row
// losses, their sum and the bias gradients accumulated in float64), and the
// update rule runs in float32 on float32 optimizer state, as in PyTorch's
// float32 training (plain SGD is fused into the backward pass, see
// nn.Workspace32.SGDStep). Everything else stays float64: at every evaluation,
// probe, SWA average and at the end the float32 parameters are converted
// exactly to the float64 θ of the caller, on which the metrics (the float64
// network's Loss), the probes and everything measured afterwards are
// computed. The batch order, the augmentation and the learning-rate and
// batch-size schedules are those of float64 training. Float32 supports the
// networks nn.Network.Float32 accepts (Dense layers with ReLU or tanh, the
// cross-entropy and squared-error losses, weight decay) and every optimizer,
// but neither SAM nor networks with training-mode layers (batch
// normalization, dropout); Train refuses them.
type Precision int

const (
	// Float64 trains in float64 (the zero value).
	Float64 Precision = iota
	// Float32 trains in float32 (see Precision).
	Float32
)

// validate checks the precision against the rest of the configuration.
func (p Precision) validate(cfg Config, net *nn.Network) error {
	switch {
	case p != Float64 && p != Float32:
		return fmt.Errorf("%w: unknown precision %d", ErrConfig, p)
	case p == Float32 && cfg.SAM.on():
		return fmt.Errorf("%w: float32 training does not support SAM", ErrConfig)
	case p == Float32 && net.Trains():
		return fmt.Errorf("%w: float32 training does not support training-mode layers (batch normalization, dropout)", ErrConfig)
	}
	return nil
}

// trainer32 is the float32 state of a Float32 run: the parameters, the
// gradient, the batch and the update rule. Its methods do nothing on a nil
// receiver (a Float64 run).
type trainer32 struct {
	ws          *nn.Workspace32
	theta, grad []float32
	x           []float32
	upd         *updater32
}

// newTrainer32 returns the float32 state for training net from θ, which it
// rounds to float32 in place (θ then holds exactly the float32 parameters),
// with chunks of rows rows and batches of up to maxB examples of d features.
func newTrainer32(net *nn.Network, theta []float64, rows, maxB, d int, opt Optimizer) (*trainer32, error) {
	n32, err := net.Float32()
	if err != nil {
		return nil, fmt.Errorf("%w: float32 training: %w", ErrConfig, err)
	}
	t := &trainer32{
		ws:    n32.NewWorkspace(rows),
		theta: make([]float32, len(theta)), grad: make([]float32, len(theta)),
		x:   make([]float32, maxB*d),
		upd: newUpdater32(opt, len(theta)),
	}
	nn.To32(t.theta, theta)
	nn.To64(theta, t.theta)
	return t, nil
}

// step takes one update with learning rate lr on the batch (xb, yb),
// rounding xb to float32, and returns the batch loss before it; a
// non-finite loss takes no update. Plain SGD uses the network's fused step
// (nn.Workspace32.SGDStep), the other rules its gradient and updater32.
func (t *trainer32) step(xb []float64, yb []int, lr float64) float64 {
	x := t.x[:len(xb)]
	nn.To32(x, xb)
	if t.upd.plain() {
		return t.ws.SGDStep(t.theta, t.grad, x, yb, lr)
	}
	l, _ := t.ws.LossGrad(t.grad, t.theta, x, yb)
	if !math.IsNaN(l) && !math.IsInf(l, 0) {
		t.upd.step(t.theta, t.grad, lr)
	}
	return l
}

// sync sets θ to the float32 parameters (exactly).
func (t *trainer32) sync(theta []float64) {
	if t != nil {
		nn.To64(theta, t.theta)
	}
}

// updater32 is Updater in float32: the rules of Optimizer on float32
// parameters and state, with the learning rate rounded to float32 and the
// Adam bias corrections computed in float64 and rounded.
type updater32 struct {
	v, m2     []float32
	t         int
	b1, b2    float32
	eps       float32
	nesterov  bool
	momentum  float32
	adam, mom bool
}

// newUpdater32 returns the float32 update rule of opt (validated by the
// caller) for p parameters.
func newUpdater32(opt Optimizer, p int) *updater32 {
	u := &updater32{nesterov: opt.Nesterov, momentum: float32(opt.Momentum)}
	switch {
	case opt.Kind == KindAdam:
		u.adam = true
		u.v, u.m2 = make([]float32, p), make([]float32, p)
		u.b1 = float32(orDefault(opt.Beta1, DefaultBeta1))
		u.b2 = float32(orDefault(opt.Beta2, DefaultBeta2))
		u.eps = float32(orDefault(opt.Eps, DefaultEps))
	case opt.Momentum > 0:
		u.mom = true
		u.v = make([]float32, p)
	}
	return u
}

// plain reports whether the rule is plain SGD, θ ← θ − ε g.
func (u *updater32) plain() bool { return !u.adam && !u.mom }

// step updates θ with the gradient g and learning rate lr:
//
//	SGD:       θ ← θ − ε g                       (blas32 Saxpy)
//	momentum:  v ← m v + g,  θ ← θ − ε v  (Nesterov: θ ← θ − ε (g + m v))
//	Adam:      as Updater, in float32
func (u *updater32) step(theta, grad []float32, lr float64) {
	u.t++
	lr32 := float32(lr)
	switch {
	case u.adam:
		c1 := float32(1 - math.Pow(float64(u.b1), float64(u.t)))
		c2 := float32(1 - math.Pow(float64(u.b2), float64(u.t)))
		for i, g := range grad {
			u.v[i] = u.b1*u.v[i] + (1-u.b1)*g
			u.m2[i] = u.b2*u.m2[i] + (1-u.b2)*g*g
			root := float32(math.Sqrt(float64(u.m2[i] / c2)))
			theta[i] -= lr32 * (u.v[i] / c1) / (root + u.eps)
		}
	case !u.mom:
		blas32.Implementation().Saxpy(len(grad), -lr32, grad, 1, theta, 1)
	case u.nesterov:
		m := u.momentum
		for i, g := range grad {
			u.v[i] = m*u.v[i] + g
			theta[i] -= lr32 * (g + m*u.v[i])
		}
	default:
		m := u.momentum
		for i, g := range grad {
			u.v[i] = m*u.v[i] + g
			theta[i] -= lr32 * u.v[i]
		}
	}
}
