package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Default batch-normalization constants, PyTorch's (nn.BatchNorm1d/2d).
const (
	DefaultBNEps      = 1e-5
	DefaultBNMomentum = 0.1
)

// Buffered is implemented by layers that hold buffers: state that is not a
// parameter (not part of θ, of the gradient or of the Hessian) but that the
// layer reads in evaluation mode and that training-mode passes update, such
// as the running statistics of BatchNorm. The Network lays the buffers of
// its layers out in one flat vector, as it does θ (see Network.NumBuffers),
// and the Workspace hands each layer its slice in the B field of its output
// Buf.
type Buffered interface {
	Layer
	// NumBuffers is the length of the layer's buffer slice.
	NumBuffers() int
	// InitBuffers sets b to the buffers of a fresh layer.
	InitBuffers(b []float64)
}

// TrainCtx is what a training-mode pass gives each Trainer layer.
type TrainCtx struct {
	// Rng draws the dropout masks, layer by layer in network order.
	Rng *rand.Rand
	// Update folds the batch statistics into the running statistics (out.B).
	Update bool
	// Cumulative makes the update a cumulative average instead of an
	// exponential one (PyTorch's momentum=None; see BatchNorm).
	Cumulative bool
}

// Trainer is implemented by layers that compute differently while training
// (BatchNorm, Dropout). Workspace.TrainGrad calls ForwardTrain and
// BackwardTrain instead of Forward and Backward; every other pass (Loss,
// LossGrad, HVP, GNVP, Hessian, Outputs, …) is in evaluation mode and calls
// Forward, Backward, RForward and RBackward, which for these layers are the
// evaluation-mode map (a fixed affine map per channel, the identity).
type Trainer interface {
	Layer
	// TrainLen is the length of the training state (Buf.T) for batches of
	// rows rows.
	TrainLen(rows int) int
	// ForwardTrain sets out.A to the training-mode output, keeping in out.T
	// what BackwardTrain needs.
	ForwardTrain(n int, p []float64, in, out *Buf, tc *TrainCtx)
	// BackwardTrain is Backward for the state left by ForwardTrain.
	BackwardTrain(n int, p, grad []float64, in, out *Buf)
}

// forwardMode runs ly's forward pass in training mode (ForwardTrain) when
// train is set and ly is a Trainer, in evaluation mode (Forward) otherwise.
func forwardMode(train bool, ly Layer, n int, p []float64, in, out *Buf, tc *TrainCtx) {
	if train {
		if tr, ok := ly.(Trainer); ok {
			tr.ForwardTrain(n, p, in, out, tc)
			return
		}
	}
	ly.Forward(n, p, in, out)
}

// backwardMode is Backward, or BackwardTrain when train is set and ly is a
// Trainer (after the pass of forwardMode with the same train).
func backwardMode(train bool, ly Layer, n int, p, grad []float64, in, out *Buf) {
	if train {
		if tr, ok := ly.(Trainer); ok {
			tr.BackwardTrain(n, p, grad, in, out)
			return
		}
	}
	ly.Backward(n, p, grad, in, out)
}

// BatchNorm is batch normalization (Ioffe & Szegedy 2015) over C channels of
// HW positions each: a row holds C·HW values, channel c at columns
// [c·HW, (c+1)·HW) (HW = 1 for the features of a dense layer, PyTorch's
// BatchNorm1d; HW = H·W for the NCHW feature maps of a convolution,
// BatchNorm2d). Its parameters are γ (C) followed by β (C); its buffers are
// the running mean μ (C), the running variance σ² (C) and the number of
// training batches seen (one value), PyTorch's running_mean, running_var and
// num_batches_tracked.
//
// In evaluation mode (Forward, Backward, RForward, RBackward) it is the fixed
// affine map of each channel
//
//	Y = γ (A − μ)/s + β,  s = √(σ² + ε),
//
// so that, with x̂ = (A − μ)/s and direction (v_γ, v_β),
//
//	D_A = γ D_Y / s,  ∇γ = Σ D_Y x̂,  ∇β = Σ D_Y
//	R{Y} = (γ R{A} + v_γ (A − μ))/s + v_β
//	R{D_A} = (γ R{D_Y} + v_γ D_Y)/s
//	(Hv)_γ = Σ (R{D_Y} x̂ + D_Y R{A}/s),  (Hv)_β = Σ R{D_Y}
//
// (sums over the rows and the channel's positions), exactly like a diagonal
// Dense layer. In training mode (ForwardTrain) it normalizes each channel by
// the statistics of the batch, m = n·HW values per channel,
//
//	μ_B = (1/m) Σ A,  σ²_B = (1/m) Σ (A − μ_B)²,  x̂ = (A − μ_B)/√(σ²_B + ε),
//	Y = γ x̂ + β,
//
// whose gradient couples the rows of the batch:
//
//	D_A = (γ/√(σ²_B + ε)) (D_Y − (1/m) Σ D_Y − x̂ (1/m) Σ D_Y x̂),
//
// and, when TrainCtx.Update is set, updates the running statistics as
// PyTorch does, with momentum ρ:
//
//	μ ← (1 − ρ) μ + ρ μ_B,  σ² ← (1 − ρ) σ² + ρ σ²_B·m/(m − 1),
//	num_batches_tracked ← num_batches_tracked + 1
//
// (the running variance is unbiased; with m = 1 it is left unchanged, where
// PyTorch refuses such a batch). With TrainCtx.Cumulative the update uses
// ρ = 1/(num_batches_tracked + 1) instead, as PyTorch's momentum=None does,
// so that from the initial buffers after k batches μ and σ² are the plain
// means of the k batch means and unbiased batch variances (the statistics
// SWA's update_bn recomputes).
type BatchNorm struct {
	// C is the number of channels, HW the positions per channel (≥ 1).
	C, HW int
	// Eps is ε and Momentum ρ (0: DefaultBNEps, DefaultBNMomentum).
	Eps, Momentum float64
}

func (b *BatchNorm) validate() error {
	if b.C <= 0 || b.HW <= 0 || b.Eps < 0 || !(b.Momentum >= 0 && b.Momentum <= 1) {
		return fmt.Errorf("%w: BatchNorm with %d channels × %d, ε = %v, momentum %v",
			ErrShape, b.C, b.HW, b.Eps, b.Momentum)
	}
	return nil
}

func (b *BatchNorm) eps() float64 {
	if b.Eps == 0 {
		return DefaultBNEps
	}
	return b.Eps
}

func (b *BatchNorm) momentum() float64 {
	if b.Momentum == 0 {
		return DefaultBNMomentum
	}
	return b.Momentum
}

// InSize returns C·HW.
func (b *BatchNorm) InSize() int { return b.C * b.HW }

// OutSize returns C·HW.
func (b *BatchNorm) OutSize() int { return b.C * b.HW }

// NumParams returns 2C (γ, β).
func (b *BatchNorm) NumParams() int { return 2 * b.C }

// NumBuffers returns 2C + 1 (running mean, running variance, batches seen).
func (b *BatchNorm) NumBuffers() int { return 2*b.C + 1 }

// InitBuffers sets μ = 0, σ² = 1 and the batch count to 0, as PyTorch does.
func (b *BatchNorm) InitBuffers(buf []float64) {
	mu, v, cnt := b.bufs(buf)
	clear(mu)
	for i := range v {
		v[i] = 1
	}
	cnt[0] = 0
}

// MarkBiases marks β as biases.
func (b *BatchNorm) MarkBiases(isBias []bool) {
	for i := b.C; i < 2*b.C; i++ {
		isBias[i] = true
	}
}

// Init sets γ = 1 and β = 0, as PyTorch does.
func (b *BatchNorm) Init(p []float64, _ *rand.Rand) {
	g, be := b.split(p)
	for i := range g {
		g[i] = 1
	}
	clear(be)
}

func (b *BatchNorm) split(p []float64) (g, be []float64) {
	return p[:b.C:b.C], p[b.C : 2*b.C]
}

func (b *BatchNorm) bufs(buf []float64) (mu, v, count []float64) {
	c := b.C
	return buf[:c:c], buf[c : 2*c : 2*c], buf[2*c : 2*c+1]
}

// channels calls f(c, lo, hi) for every row i < n and channel c with
// [lo, hi) the channel's columns in the flat n×(C·HW) matrix.
func (b *BatchNorm) channels(n int, f func(c, lo, hi int)) {
	w := b.C * b.HW
	for i := 0; i < n; i++ {
		for c := 0; c < b.C; c++ {
			lo := i*w + c*b.HW
			f(c, lo, lo+b.HW)
		}
	}
}

// Forward sets out.A = γ (in.A − μ)/s + β with the running statistics.
func (b *BatchNorm) Forward(n int, p []float64, in, out *Buf) {
	g, be := b.split(p)
	mu, v, _ := b.bufs(out.B)
	eps := b.eps()
	b.channels(n, func(c, lo, hi int) {
		k, m, sh := g[c]/math.Sqrt(v[c]+eps), mu[c], be[c]
		for j := lo; j < hi; j++ {
			out.A[j] = k*(in.A[j]-m) + sh
		}
	})
}

// Backward sets in.D = γ out.D/s and adds ∇γ += Σ out.D x̂, ∇β += Σ out.D.
func (b *BatchNorm) Backward(n int, p, grad []float64, in, out *Buf) {
	g, _ := b.split(p)
	mu, v, _ := b.bufs(out.B)
	eps := b.eps()
	var gg, gb []float64
	if grad != nil {
		gg, gb = b.split(grad)
	}
	b.channels(n, func(c, lo, hi int) {
		r := 1 / math.Sqrt(v[c]+eps)
		if in.D != nil {
			k := g[c] * r
			for j := lo; j < hi; j++ {
				in.D[j] = k * out.D[j]
			}
		}
		if grad != nil {
			var sg, sb float64
			for j := lo; j < hi; j++ {
				sg += out.D[j] * (in.A[j] - mu[c]) * r
				sb += out.D[j]
			}
			gg[c] += sg
			gb[c] += sb
		}
	})
}

// RForward sets out.RA = (γ in.RA + v_γ (in.A − μ))/s + v_β.
func (b *BatchNorm) RForward(n int, p, vp []float64, in, out *Buf) {
	g, _ := b.split(p)
	vg, vb := b.split(vp)
	mu, v, _ := b.bufs(out.B)
	eps := b.eps()
	b.channels(n, func(c, lo, hi int) {
		r := 1 / math.Sqrt(v[c]+eps)
		k, kv := g[c]*r, vg[c]*r
		for j := lo; j < hi; j++ {
			y := kv*(in.A[j]-mu[c]) + vb[c]
			if in.RA != nil {
				y += k * in.RA[j]
			}
			out.RA[j] = y
		}
	})
}

// RBackward sets in.RD = (γ out.RD + v_γ out.D)/s and adds
// (Hv)_γ += Σ (out.RD x̂ + out.D in.RA/s), (Hv)_β += Σ out.RD.
func (b *BatchNorm) RBackward(n int, p, vp, hv []float64, in, out *Buf) {
	g, _ := b.split(p)
	vg, _ := b.split(vp)
	hg, hb := b.split(hv)
	mu, v, _ := b.bufs(out.B)
	eps := b.eps()
	b.channels(n, func(c, lo, hi int) {
		r := 1 / math.Sqrt(v[c]+eps)
		if in.RD != nil {
			k, kv := g[c]*r, vg[c]*r
			for j := lo; j < hi; j++ {
				in.RD[j] = k*out.RD[j] + kv*out.D[j]
			}
		}
		var sg, sb float64
		for j := lo; j < hi; j++ {
			sg += out.RD[j] * (in.A[j] - mu[c]) * r
			if in.RA != nil {
				sg += out.D[j] * in.RA[j] * r
			}
			sb += out.RD[j]
		}
		hg[c] += sg
		hb[c] += sb
	})
}

// TrainLen returns n·C·HW (x̂) + 4C (μ_B, 1/√(σ²_B + ε) and two per-channel
// sums of the backward pass).
func (b *BatchNorm) TrainLen(rows int) int { return rows*b.C*b.HW + 4*b.C }

// trainState splits out.T into x̂ and the per-channel vectors.
func (b *BatchNorm) trainState(n int, t []float64) (xhat, mean, rstd, s1, s2 []float64) {
	c, m := b.C, n*b.C*b.HW
	xhat = t[:m:m]
	t = t[m:]
	return xhat, t[:c:c], t[c : 2*c : 2*c], t[2*c : 3*c : 3*c], t[3*c : 4*c : 4*c]
}

// ForwardTrain normalizes with the batch statistics and, with tc.Update,
// updates the running statistics (see BatchNorm).
func (b *BatchNorm) ForwardTrain(n int, p []float64, in, out *Buf, tc *TrainCtx) {
	g, be := b.split(p)
	xhat, mean, rstd, s1, _ := b.trainState(n, out.T)
	clear(mean)
	clear(s1)
	b.channels(n, func(c, lo, hi int) {
		for j := lo; j < hi; j++ {
			mean[c] += in.A[j]
		}
	})
	m := float64(n * b.HW)
	for c := range mean {
		mean[c] /= m
	}
	b.channels(n, func(c, lo, hi int) {
		for j := lo; j < hi; j++ {
			d := in.A[j] - mean[c]
			s1[c] += d * d
		}
	})
	eps := b.eps()
	for c, ss := range s1 {
		rstd[c] = 1 / math.Sqrt(ss/m+eps)
	}
	b.channels(n, func(c, lo, hi int) {
		for j := lo; j < hi; j++ {
			x := (in.A[j] - mean[c]) * rstd[c]
			xhat[j] = x
			out.A[j] = g[c]*x + be[c]
		}
	})
	if tc == nil || !tc.Update {
		return
	}
	mu, v, cnt := b.bufs(out.B)
	rho := b.momentum()
	if tc.Cumulative {
		rho = 1 / (cnt[0] + 1)
	}
	for c := range mu {
		mu[c] = (1-rho)*mu[c] + rho*mean[c]
		if m > 1 {
			v[c] = (1-rho)*v[c] + rho*s1[c]/(m-1)
		}
	}
	cnt[0]++
}

// BackwardTrain backpropagates through the batch statistics (see BatchNorm).
func (b *BatchNorm) BackwardTrain(n int, p, grad []float64, in, out *Buf) {
	g, _ := b.split(p)
	xhat, _, rstd, s1, s2 := b.trainState(n, out.T)
	clear(s1)
	clear(s2)
	b.channels(n, func(c, lo, hi int) {
		for j := lo; j < hi; j++ {
			s1[c] += out.D[j]
			s2[c] += out.D[j] * xhat[j]
		}
	})
	if grad != nil {
		gg, gb := b.split(grad)
		for c := range s1 {
			gg[c] += s2[c]
			gb[c] += s1[c]
		}
	}
	if in.D == nil {
		return
	}
	m := float64(n * b.HW)
	b.channels(n, func(c, lo, hi int) {
		k, a1, a2 := g[c]*rstd[c], s1[c]/m, s2[c]/m
		for j := lo; j < hi; j++ {
			in.D[j] = k * (out.D[j] - a1 - xhat[j]*a2)
		}
	})
}

// Dropout is inverted dropout of width Size with drop probability P ∈ [0, 1),
// as PyTorch's nn.Dropout: in training mode (ForwardTrain) each value is
// zeroed with probability P and the others are scaled by 1/(1 − P),
//
//	Y = M ⊙ A,  M_i = 0 with probability P, 1/(1 − P) otherwise,
//
// so that E[Y] = A, and D_A = M ⊙ D_Y. The mask of each value is drawn from
// TrainCtx.Rng (dropped when a uniform draw u ∈ [0, 1) is < P), row by row.
// In evaluation mode it is the identity (J = I, no curvature).
type Dropout struct {
	Size int
	P    float64
}

func (d *Dropout) validate() error {
	if !(d.P >= 0 && d.P < 1) {
		return fmt.Errorf("%w: dropout probability %v (want 0 ≤ p < 1)", ErrShape, d.P)
	}
	return nil
}

// InSize returns Size.
func (d *Dropout) InSize() int { return d.Size }

// OutSize returns Size.
func (d *Dropout) OutSize() int { return d.Size }

// NumParams returns 0.
func (d *Dropout) NumParams() int { return 0 }

// Init does nothing.
func (d *Dropout) Init([]float64, *rand.Rand) {}

// Forward sets out.A = in.A (evaluation mode).
func (d *Dropout) Forward(n int, _ []float64, in, out *Buf) {
	copy(out.A[:n*d.Size], in.A[:n*d.Size])
}

// Backward sets in.D = out.D.
func (d *Dropout) Backward(n int, _, _ []float64, in, out *Buf) {
	if in.D != nil {
		copy(in.D[:n*d.Size], out.D[:n*d.Size])
	}
}

// RForward sets out.RA = in.RA.
func (d *Dropout) RForward(n int, _, _ []float64, in, out *Buf) {
	if in.RA == nil {
		clear(out.RA[:n*d.Size])
		return
	}
	copy(out.RA[:n*d.Size], in.RA[:n*d.Size])
}

// RBackward sets in.RD = out.RD.
func (d *Dropout) RBackward(n int, _, _, _ []float64, in, out *Buf) {
	if in.RD != nil {
		copy(in.RD[:n*d.Size], out.RD[:n*d.Size])
	}
}

// TrainLen returns rows·Size (the mask).
func (d *Dropout) TrainLen(rows int) int { return rows * d.Size }

// ForwardTrain draws the mask M into out.T and sets out.A = M ⊙ in.A.
func (d *Dropout) ForwardTrain(n int, _ []float64, in, out *Buf, tc *TrainCtx) {
	m := n * d.Size
	mask := out.T[:m]
	keep := 1 / (1 - d.P)
	for i := range mask {
		if tc.Rng.Float64() < d.P {
			mask[i] = 0
		} else {
			mask[i] = keep
		}
	}
	for i, x := range in.A[:m] {
		out.A[i] = mask[i] * x
	}
}

// BackwardTrain sets in.D = M ⊙ out.D.
func (d *Dropout) BackwardTrain(n int, _, _ []float64, in, out *Buf) {
	if in.D == nil {
		return
	}
	m := n * d.Size
	for i, x := range out.D[:m] {
		in.D[i] = out.T[i] * x
	}
}
