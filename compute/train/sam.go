package train

import (
	"fmt"
	"math"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// DefaultEta is ASAM's η, used when SAM.Eta is zero (Kwon et al.'s value).
const DefaultEta = 0.01

// gradFunc sets g to the minibatch gradient at θ on the rows x, y (sub-batch
// k of m-sharpness, 0 otherwise) and returns the loss; first marks the
// gradient at the unperturbed θ, the one whose batch statistics update the
// running statistics of batch normalization.
type gradFunc func(g, theta, x []float64, y []int, k int, first bool) float64

// SAM configures sharpness-aware minimization (Foret, Kleiner, Mobahi &
// Neyshabur 2021, arXiv 2010.01412) and its adaptive variant ASAM (Kwon,
// Kim, Park & Choi 2021, arXiv 2102.11600). The zero value is off: the
// update uses the minibatch gradient g = ∇L_β(θ).
//
// With Rho = ρ > 0 every update takes two gradient evaluations on the same
// batch β: the gradient g = ∇L_β(θ), which defines the ascent step e, and the
// gradient at the perturbed point θ + e, which replaces g in the update rule
// of the Optimizer (plain SGD, momentum, Adam):
//
//	θ ← update(θ, ∇L_β(θ + e), ε)
//	SAM:   e = ρ g / ‖g‖₂
//	ASAM:  e = ρ T² g / ‖T g‖₂,   T = diag(t),  t_i = |θ_i| + η
//
// and e = 0 when the norm is 0. ASAM scales weights only, as the reference
// implementation of Kwon et al. does: t_i = |θ_i| + η for every weight entry
// and t_i = 1 for every bias entry (those marked by nn.BiasMarker layers).
//
// m-sharpness (M = m > 0) splits the batch of B examples into B/m
// consecutive sub-batches β_1, …, β_{B/m} of m examples (m must divide every
// batch size of the run, including those of a BatchSchedule); each computes
// its own e_k from its own gradient ∇L_{β_k}(θ), and the update uses the mean
// of the perturbed gradients:
//
//	θ ← update(θ, (m/B) Σ_k ∇L_{β_k}(θ + e_k), ε).
//
// M = 0 (or M = B) is ordinary SAM on the whole batch.
//
// Weight decay, when the training network carries it (nn.Network's L2
// penalty), is part of L_β and so of both gradients: e follows ∇L_β(θ) + λθ
// and the update uses ∇L_β(θ + e) + λ(θ + e). (PyTorch implementations that
// give weight_decay to the base optimizer instead compute e from ∇L_β(θ)
// alone and add λθ at the unperturbed θ; the two differ by λe in the update
// and by λθ in the direction of e.)
//
// Each update costs two gradient evaluations of a batch, whatever m
// (Result.Gradients counts them).
//
// With training-mode layers (nn.Trainer) both gradients of a (sub-)batch
// are training-mode gradients with the same dropout masks, and only the
// first, at θ, updates the running statistics of batch normalization (as
// the common PyTorch implementations do by disabling the update during the
// second pass); each sub-batch of m-sharpness is normalized by its own
// statistics.
type SAM struct {
	// Rho is the neighbourhood radius ρ ≥ 0 (0: SAM off). Foret et al. use
	// ρ ≈ 0.05, Kwon et al. ρ ≈ 0.5–2 for ASAM.
	Rho float64
	// Adaptive selects ASAM (needs Rho > 0).
	Adaptive bool
	// Eta is ASAM's η > 0 (0: DefaultEta; only with Adaptive).
	Eta float64
	// M is the m-sharpness sub-batch size m ≥ 0 (0: the whole batch; needs
	// Rho > 0).
	M int
}

func (s SAM) validate() error {
	switch {
	case !(s.Rho >= 0) || math.IsInf(s.Rho, 0):
		return fmt.Errorf("%w: SAM ρ = %v must be finite and ≥ 0", ErrConfig, s.Rho)
	case !(s.Eta >= 0) || math.IsInf(s.Eta, 0):
		return fmt.Errorf("%w: ASAM η = %v must be finite and > 0 (0: default %g)", ErrConfig, s.Eta, DefaultEta)
	case s.M < 0:
		return fmt.Errorf("%w: m-sharpness sub-batch size m = %d must be ≥ 0", ErrConfig, s.M)
	case s.Rho == 0 && (s.Adaptive || s.Eta != 0 || s.M != 0):
		return fmt.Errorf("%w: adaptive, η and m need SAM ρ > 0", ErrConfig)
	case s.Eta != 0 && !s.Adaptive:
		return fmt.Errorf("%w: η is ASAM's parameter (needs Adaptive)", ErrConfig)
	}
	return nil
}

// on reports whether SAM is enabled.
func (s SAM) on() bool { return s.Rho > 0 }

// sharpness computes the SAM gradient of a batch, holding its buffers.
type sharpness struct {
	cfg  SAM
	eta  float64
	bias []bool    // bias entries (ASAM only)
	pert []float64 // θ + e
	g    []float64 // sub-batch gradient (m-sharpness only)
}

func newSharpness(cfg SAM, net *nn.Network) *sharpness {
	p := net.NumParams()
	s := &sharpness{cfg: cfg, eta: orDefault(cfg.Eta, DefaultEta), pert: make([]float64, p)}
	if cfg.M > 0 {
		s.g = make([]float64, p)
	}
	if cfg.Adaptive {
		s.bias = make([]bool, p)
		for l, ly := range net.Layers() {
			if bm, ok := ly.(nn.BiasMarker); ok {
				bm.MarkBiases(s.bias[net.Offset(l):net.Offset(l+1)])
			}
		}
	}
	return s
}

// gradient sets grad to the SAM gradient of the batch of b rows of x (d
// features each) and labels y at θ (see SAM) and returns the sum of the
// losses it evaluated, at θ and at the perturbed points: finite if and only
// if every one of them is (barring overflow of the sum, itself a sign of
// divergence).
func (s *sharpness) gradient(lg gradFunc, grad, theta, x []float64, y []int, d int) float64 {
	b := len(y)
	m := s.cfg.M
	if m == 0 || m == b {
		return s.perturbed(lg, 0, grad, theta, x, y)
	}
	clear(grad)
	var sum float64
	for lo := 0; lo < b; lo += m {
		sum += s.perturbed(lg, lo/m, s.g, theta, x[lo*d:(lo+m)*d], y[lo:lo+m])
		for i, v := range s.g {
			grad[i] += v
		}
	}
	k := 1 / float64(b/m)
	for i := range grad {
		grad[i] *= k
	}
	return sum
}

// perturbed sets g to ∇L(θ + e) on the rows x, y (sub-batch k), with e
// computed from ∇L(θ) on the same rows, and returns L(θ) + L(θ + e).
func (s *sharpness) perturbed(lg gradFunc, k int, g, theta, x []float64, y []int) float64 {
	loss := lg(g, theta, x, y, k, true)
	// pert ← T²g and sq = ‖Tg‖² in one pass (T = I for SAM), then
	// pert ← θ + ρ·T²g/‖Tg‖.
	var sq float64
	for i, v := range g {
		t := s.scale(theta, i)
		tg := t * v
		sq += tg * tg
		s.pert[i] = t * tg
	}
	c := 0.0
	if sq > 0 {
		c = s.cfg.Rho / math.Sqrt(sq)
	}
	for i, p := range s.pert {
		s.pert[i] = theta[i] + c*p
	}
	lp := lg(g, s.pert, x, y, k, false)
	return loss + lp
}

// scale returns ASAM's t_i: |θ_i| + η for a weight, 1 for a bias, and 1
// for every parameter of plain SAM.
func (s *sharpness) scale(theta []float64, i int) float64 {
	if s.bias == nil || s.bias[i] {
		return 1
	}
	return math.Abs(theta[i]) + s.eta
}

// SWA configures stochastic weight averaging (Izmailov, Podoprikhin,
// Garipov, Vetrov & Wilson 2018, arXiv 1803.05407). The zero value is off.
//
// With Start = s ≥ 1 the run keeps the running mean of the iterates at the
// end of epochs s, s+1, …, E (the last one partial under a step budget that
// ends inside an epoch):
//
//	θ_swa = (1/(E − s + 1)) Σ_{e=s}^{E} θ_e,
//
// updated as θ_swa ← θ_swa + (θ_e − θ_swa)/k at the k-th averaged epoch. At
// the end of training θ is replaced by θ_swa: Result.Final holds the metrics
// at θ_swa, while Result.Curve keeps those of the iterates θ_e. With batch
// normalization (nn.BatchNorm) the running statistics of the iterates do
// not fit θ_swa, so they are recomputed at θ_swa, as PyTorch's
// torch.optim.swa_utils.update_bn does: reset, then one training-mode pass
// over the training set (consecutive batches of the last epoch's batch
// size, in index order, the last N mod B examples left out; dropout
// active, with the masks of the updates that would follow) with the
// cumulative average of the batch statistics (momentum=None). A run that diverges or is cancelled is not averaged.
type SWA struct {
	// Start is the first averaged epoch s (1-based; 0: off). It must not
	// exceed the number of epochs of the run.
	Start int
}

func (s SWA) validate() error {
	if s.Start < 0 {
		return fmt.Errorf("%w: SWA start epoch %d must be ≥ 1 (0: off)", ErrConfig, s.Start)
	}
	return nil
}

// averager keeps the running mean of the iterates.
type averager struct {
	mean []float64
	k    int
}

// add folds θ into the mean.
func (a *averager) add(theta []float64) {
	a.k++
	if a.k == 1 {
		copy(a.mean, theta)
		return
	}
	c := 1 / float64(a.k)
	for i, v := range theta {
		a.mean[i] += (v - a.mean[i]) * c
	}
}
