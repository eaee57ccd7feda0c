package nn

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Workspace holds the scratch memory for evaluating a Network on batches of up
// to Rows examples at a time. Longer inputs are processed in consecutive
// chunks of Rows examples; the per-chunk contributions are accumulated in
// chunk order, so the results are deterministic. Repeated calls do not
// allocate (package nn does not; gonum's pure-Go Dgemm allocates small task
// records when it splits a large product across goroutines, which OpenBLAS
// does not). A Workspace must not be used concurrently.
type Workspace struct {
	net  *Network
	rows int
	bufs []Buf // bufs[j] is boundary j; bufs[0].A aliases the input chunk
	// gbufs mirrors bufs for the Gauss–Newton pass: the same A and S, with D
	// aliasing RD (recursively for composite layers), so that a plain backward
	// pass over gbufs propagates R{D} without second-order terms.
	gbufs []Buf
	// stats is the workspace's copy of the network's buffers (Buf.B views
	// into it); pcg and rng draw the dropout masks of training-mode passes.
	stats []float64
	pcg   *rand.PCG
	rng   *rand.Rand
	tc    TrainCtx
}

// NewWorkspace allocates a workspace for chunks of at most rows examples
// (rows < 1 is treated as 1).
func (net *Network) NewWorkspace(rows int) *Workspace {
	return net.newWorkspace(max(rows, 1), nil)
}

// newWorkspace allocates a workspace; when share is non-nil the R-operator
// buffers (RA, RD) and the temporary scratch (S) are taken from share instead
// of being allocated, while the forward and backward state (A, D) is private.
func (net *Network) newWorkspace(rows int, share *Workspace) *Workspace {
	ws := &Workspace{net: net, rows: rows, bufs: make([]Buf, len(net.layers)+1), stats: slices.Clone(net.buffers)}
	ws.pcg = rand.NewPCG(0, 0)
	ws.rng = rand.New(ws.pcg)
	for j := 1; j <= len(net.layers); j++ {
		var sh *Buf
		if share != nil {
			sh = &share.bufs[j]
		}
		ws.bufs[j] = newBuf(net.layers[j-1], rows, sh)
		assignBuffers(net.layers[j-1], &ws.bufs[j], net.LayerBuffers(ws.stats, j-1))
	}
	ws.gbufs = gnBufs(ws.bufs)
	return ws
}

// newBuf allocates the output boundary of layer ly for rows rows, recursing
// into composite layers; R buffers and scratch come from share when non-nil.
func newBuf(ly Layer, rows int, share *Buf) Buf {
	m := rows * ly.OutSize()
	b := Buf{A: make([]float64, m), D: make([]float64, m)}
	if share != nil {
		b.RA, b.RD, b.S = share.RA, share.RD, share.S
	} else {
		b.RA, b.RD = make([]float64, m), make([]float64, m)
		if sc, ok := ly.(Scratcher); ok {
			b.S = make([]float64, sc.ScratchLen(rows))
		}
		if tr, ok := ly.(Trainer); ok {
			b.T = make([]float64, tr.TrainLen(rows))
		}
	}
	if share != nil {
		b.T = share.T
	}
	if c, ok := ly.(Composite); ok {
		sub := c.Sublayers()
		b.Sub = make([]Buf, len(sub)+1)
		for k, sl := range sub {
			var sh *Buf
			if share != nil {
				sh = &share.Sub[k+1]
			}
			b.Sub[k+1] = newBuf(sl, rows, sh)
		}
	}
	return b
}

// assignBuffers sets the B field of ly's output boundary to b, and those of
// the inner boundaries of a composite layer to its sub-layers' slices of b.
func assignBuffers(ly Layer, buf *Buf, b []float64) {
	buf.B = b
	if c, ok := ly.(Composite); ok {
		off := 0
		for k, sl := range c.Sublayers() {
			n := numBuffers(sl)
			assignBuffers(sl, &buf.Sub[k+1], b[off:off+n:off+n])
			off += n
		}
	}
}

// gnBufs returns a copy of bufs with D replaced by RD, recursively.
func gnBufs(bufs []Buf) []Buf {
	if bufs == nil {
		return nil
	}
	g := make([]Buf, len(bufs))
	for j, b := range bufs {
		g[j] = Buf{A: b.A, D: b.RD, S: b.S, B: b.B, T: b.T, Sub: gnBufs(b.Sub)}
	}
	return g
}

// stateWidth is the number of floats per example of a layer's A and D state
// (its output width plus that of every inner boundary).
func stateWidth(ly Layer) int {
	w := ly.OutSize()
	if c, ok := ly.(Composite); ok {
		for _, sl := range c.Sublayers() {
			w += stateWidth(sl)
		}
	}
	return w
}

// Network returns the workspace's network.
func (ws *Workspace) Network() *Network { return ws.net }

// Rows returns the chunk size of the workspace.
func (ws *Workspace) Rows() int { return ws.rows }

// check panics on inconsistent lengths (programming errors, as in gonum).
func (ws *Workspace) check(theta, x []float64, y []int, vecs ...[]float64) {
	p := ws.net.NumParams()
	if len(theta) != p {
		panic(fmt.Sprintf("nn: len(theta) = %d, want %d", len(theta), p))
	}
	for _, v := range vecs {
		if len(v) != p {
			panic(fmt.Sprintf("nn: vector length %d, want %d", len(v), p))
		}
	}
	if d := ws.net.InSize(); len(x) != len(y)*d {
		panic(fmt.Sprintf("nn: len(x) = %d, want %d×%d", len(x), len(y), d))
	}
}

// forward runs the forward pass on the n×d chunk x.
func (ws *Workspace) forward(theta, x []float64, n int) { ws.forwardIn(false, theta, x, n, nil) }

// trainForward runs the training-mode forward pass on the n×d chunk x:
// ForwardTrain for Trainer layers, Forward for the others.
func (ws *Workspace) trainForward(theta, x []float64, n int, tc *TrainCtx) {
	ws.forwardIn(true, theta, x, n, tc)
}

// forwardIn is forward, or trainForward with train set.
func (ws *Workspace) forwardIn(train bool, theta, x []float64, n int, tc *TrainCtx) {
	ws.bufs[0].A = x
	for l, ly := range ws.net.layers {
		forwardMode(train, ly, n, ws.net.LayerParams(theta, l), &ws.bufs[l], &ws.bufs[l+1], tc)
	}
}

// backward evaluates the loss with scale s on the last forward pass, sets every
// D and, when grad is non-nil, adds s·Σᵢ∇ℓᵢ to grad. With train set it
// follows a training-mode forward pass (BackwardTrain for Trainer layers).
func (ws *Workspace) backward(theta []float64, y []int, n int, s float64, grad []float64, train bool) (float64, int) {
	net := ws.net
	last := len(net.layers)
	sum, correct := net.loss.Eval(n, net.OutSize(), ws.bufs[last].A, y, s, ws.bufs[last].D)
	for l := last - 1; l >= 0; l-- {
		var g []float64
		if grad != nil {
			g = net.LayerParams(grad, l)
		}
		backwardMode(train, net.layers[l], n, net.LayerParams(theta, l), g, &ws.bufs[l], &ws.bufs[l+1])
	}
	return sum, correct
}

// rpass runs the R-forward and R-backward passes for direction v on the state
// left by forward and backward and adds s·Σᵢ∇²ℓᵢ v to hv.
func (ws *Workspace) rpass(theta, v, hv []float64, y []int, n int, s float64) {
	net := ws.net
	last := len(net.layers)
	ws.rforward(theta, v, n)
	out := &ws.bufs[last]
	net.loss.HessVec(n, net.OutSize(), out.A, y, s, out.RA, out.RD)
	for l := last - 1; l >= 0; l-- {
		net.layers[l].RBackward(n, net.LayerParams(theta, l), net.LayerParams(v, l),
			net.LayerParams(hv, l), &ws.bufs[l], &ws.bufs[l+1])
	}
}

// rforward runs the R-forward pass for direction v on the state left by
// forward, setting R{z} = J v at every boundary.
func (ws *Workspace) rforward(theta, v []float64, n int) {
	net := ws.net
	for l, ly := range net.layers {
		ly.RForward(n, net.LayerParams(theta, l), net.LayerParams(v, l), &ws.bufs[l], &ws.bufs[l+1])
	}
}

// gnpass adds s·Σᵢ J_iᵀ (∇²_z ℓᵢ) J_i v to gv on the state left by forward:
// R-forward for R{z} = J v, the loss's output Hessian, then the plain backward
// pass (Layer.Backward) over gbufs, whose D fields alias the R{D} buffers.
func (ws *Workspace) gnpass(theta, v, gv []float64, y []int, n int, s float64) {
	net := ws.net
	last := len(net.layers)
	ws.rforward(theta, v, n)
	out := &ws.bufs[last]
	net.loss.HessVec(n, net.OutSize(), out.A, y, s, out.RA, out.RD)
	ws.gbufs[0].A = ws.bufs[0].A
	for l := last - 1; l >= 0; l-- {
		net.layers[l].Backward(n, net.LayerParams(theta, l), net.LayerParams(gv, l),
			&ws.gbufs[l], &ws.gbufs[l+1])
	}
}

// chunks calls f for consecutive chunks [lo, hi) of at most ws.rows rows.
func (ws *Workspace) chunks(n int, f func(lo, hi int)) {
	for lo := 0; lo < n; lo += ws.rows {
		f(lo, min(lo+ws.rows, n))
	}
}

// Loss returns the mean loss (1/n) Σᵢ ℓᵢ(θ) and the accuracy (fraction of
// rows whose output argmax equals the label) over the n = len(y) rows of the
// row-major n×d matrix x, plus the network's weight decay penalty (see
// Network.WithWeightDecay). It runs the forward pass only.
func (ws *Workspace) Loss(theta, x []float64, y []int) (loss, acc float64) {
	ws.check(theta, x, y)
	n, d := len(y), ws.net.InSize()
	if n == 0 {
		return 0, 0
	}
	var sum float64
	correct := 0
	last := len(ws.net.layers)
	ws.chunks(n, func(lo, hi int) {
		ws.forward(theta, x[lo*d:hi*d], hi-lo)
		s, c := ws.net.loss.Eval(hi-lo, ws.net.OutSize(), ws.bufs[last].A, y[lo:hi], 0, nil)
		sum += s
		correct += c
	})
	return sum/float64(n) + ws.net.penalty(theta, nil), float64(correct) / float64(n)
}

// LossGrad sets grad = ∇L(θ) for the mean loss L = (1/n) Σᵢ ℓᵢ over the rows of
// x (plus the weight decay penalty) and returns L and the accuracy.
func (ws *Workspace) LossGrad(grad, theta, x []float64, y []int) (loss, acc float64) {
	ws.check(theta, x, y, grad)
	clear(grad)
	n, d := len(y), ws.net.InSize()
	if n == 0 {
		return 0, 0
	}
	s := 1 / float64(n)
	var sum float64
	correct := 0
	ws.chunks(n, func(lo, hi int) {
		ws.forward(theta, x[lo*d:hi*d], hi-lo)
		ls, c := ws.backward(theta, y[lo:hi], hi-lo, s, grad, false)
		sum += ls
		correct += c
	})
	return sum/float64(n) + ws.net.penalty(theta, grad), float64(correct) / float64(n)
}

// Training selects the dropout masks of a training-mode pass and whether it
// updates the running statistics.
type Training struct {
	// Seed and Stream seed the PCG generator of the pass's dropout masks,
	// drawn layer by layer in network order, chunk after chunk: the same
	// (Seed, Stream) gives the same masks.
	Seed, Stream uint64
	// Update folds the batch statistics of every BatchNorm into the
	// workspace's running statistics (see BatchNorm).
	Update bool
	// Cumulative makes that update a cumulative average (see TrainCtx).
	Cumulative bool
}

// TrainGrad is LossGrad in training mode: BatchNorm layers normalize by the
// statistics of the batch (and, with tr.Update, update the workspace's
// running statistics, see Buffers) and Dropout layers drop values with the
// masks of tr; for a network without Trainer layers it equals LossGrad.
// Batch statistics couple the rows, so for a Coupled network the n = len(y)
// rows must fit one chunk (n ≤ Rows; it panics otherwise).
func (ws *Workspace) TrainGrad(grad, theta, x []float64, y []int, tr Training) (loss, acc float64) {
	ws.check(theta, x, y, grad)
	n, d := len(y), ws.net.InSize()
	if ws.net.coupled && n > ws.rows {
		panic(fmt.Sprintf("nn: TrainGrad of %d rows with batch normalization in a workspace of %d rows", n, ws.rows))
	}
	clear(grad)
	if n == 0 {
		return 0, 0
	}
	ws.pcg.Seed(tr.Seed, tr.Stream)
	ws.tc = TrainCtx{Rng: ws.rng, Update: tr.Update, Cumulative: tr.Cumulative}
	s := 1 / float64(n)
	var sum float64
	correct := 0
	ws.chunks(n, func(lo, hi int) {
		ws.trainForward(theta, x[lo*d:hi*d], hi-lo, &ws.tc)
		ls, c := ws.backward(theta, y[lo:hi], hi-lo, s, grad, true)
		sum += ls
		correct += c
	})
	return sum/float64(n) + ws.net.penalty(theta, grad), float64(correct) / float64(n)
}

// Buffers returns the workspace's buffers (the running statistics its
// evaluation-mode passes use and its training-mode passes update; initially
// the network's): a view, valid until the next call that changes them.
func (ws *Workspace) Buffers() []float64 { return ws.stats }

// SetBuffers sets the workspace's buffers to b (copied; length
// Network.NumBuffers()).
func (ws *Workspace) SetBuffers(b []float64) {
	if len(b) != len(ws.stats) {
		panic(fmt.Sprintf("nn: SetBuffers with %d values, want %d", len(b), len(ws.stats)))
	}
	copy(ws.stats, b)
}

// HVP sets hv = ∇²L(θ) v, the exact Hessian-vector product of the mean loss
// over the rows of x (R-operator, forward-over-reverse; plus λ M v with weight
// decay), and returns L(θ).
// hv must not alias theta or v.
func (ws *Workspace) HVP(hv, theta, v, x []float64, y []int) (loss float64) {
	ws.check(theta, x, y, v, hv)
	clear(hv)
	n, d := len(y), ws.net.InSize()
	if n == 0 {
		return 0
	}
	s := 1 / float64(n)
	var sum float64
	ws.chunks(n, func(lo, hi int) {
		ws.forward(theta, x[lo*d:hi*d], hi-lo)
		ls, _ := ws.backward(theta, y[lo:hi], hi-lo, s, nil, false)
		ws.rpass(theta, v, hv, y[lo:hi], hi-lo, s)
		sum += ls
	})
	ws.net.addDecay(hv, v)
	return sum/float64(n) + ws.net.penalty(theta, nil)
}

// GNVP sets gv = G v, the generalized Gauss–Newton product of the mean loss
// over the rows of x,
//
//	G v = (1/n) Σᵢ J_iᵀ (∇²_z ℓᵢ) J_i v  (+ λ M v with weight decay),
//
// where J_i = ∂z_i/∂θ is the Jacobian of example i's output. It runs the
// forward pass, the R-forward pass (R{z} = J v), multiplies by the loss's
// output Hessian and runs the plain backward pass on the result, so it drops
// the second-order terms Σ_c (∂ℓ/∂z_c) ∇²_θ z_c of the Hessian. G is positive
// semidefinite whenever ∇²_z ℓ is (softmax cross-entropy and squared error).
// It returns L(θ). gv must not alias theta or v.
func (ws *Workspace) GNVP(gv, theta, v, x []float64, y []int) (loss float64) {
	ws.check(theta, x, y, v, gv)
	clear(gv)
	n, d := len(y), ws.net.InSize()
	if n == 0 {
		return 0
	}
	s := 1 / float64(n)
	var sum float64
	last := len(ws.net.layers)
	ws.chunks(n, func(lo, hi int) {
		ws.forward(theta, x[lo*d:hi*d], hi-lo)
		ls, _ := ws.net.loss.Eval(hi-lo, ws.net.OutSize(), ws.bufs[last].A, y[lo:hi], 0, nil)
		ws.gnpass(theta, v, gv, y[lo:hi], hi-lo, s)
		sum += ls
	})
	ws.net.addDecay(gv, v)
	return sum/float64(n) + ws.net.penalty(theta, nil)
}

// Outputs sets z to the network outputs (the n×k row-major matrix of logits,
// k = OutSize) for the n = len(x)/InSize rows of x.
func (ws *Workspace) Outputs(z, theta, x []float64) {
	d, k := ws.net.InSize(), ws.net.OutSize()
	if len(theta) != ws.net.NumParams() || len(x)%d != 0 || len(z) != len(x)/d*k {
		panic(fmt.Sprintf("nn: Outputs: len(theta) = %d, len(x) = %d, len(z) = %d for P = %d, %d→%d",
			len(theta), len(x), len(z), ws.net.NumParams(), d, k))
	}
	last := len(ws.net.layers)
	ws.chunks(len(x)/d, func(lo, hi int) {
		ws.forward(theta, x[lo*d:hi*d], hi-lo)
		copy(z[lo*k:hi*k], ws.bufs[last].A[:(hi-lo)*k])
	})
}

// LayerForward sets out to the output of layer l alone for the n rows of in,
// the row-major n×InSize activations at its input (boundary l; the data for
// l = 0), with the parameters of θ: out = f_l(in; θ_l), n×OutSize, computed
// in chunks of Rows rows exactly as the forward pass of Loss computes them.
// A layer that is linear in its parameters (Dense, Conv2D) gives
// f_l(in; c₀v₀ + c₁v₁) = c₀ f_l(in; v₀) + c₁ f_l(in; v₁) up to rounding, so
// the outputs for a few parameter vectors can stand for those of every
// combination of them (see EvalFrom).
func (ws *Workspace) LayerForward(l int, theta, in, out []float64) {
	net := ws.net
	ly := net.layers[l]
	is, os := ly.InSize(), ly.OutSize()
	if len(theta) != net.NumParams() || len(in)%is != 0 || len(out) != len(in)/is*os {
		panic(fmt.Sprintf("nn: LayerForward(%d): len(theta) = %d, len(in) = %d, len(out) = %d for P = %d, %d→%d",
			l, len(theta), len(in), len(out), net.NumParams(), is, os))
	}
	p := net.LayerParams(theta, l)
	ws.chunks(len(in)/is, func(lo, hi int) {
		src := Buf{A: in[lo*is : hi*is]}
		dst := ws.bufs[l+1]
		dst.A = out[lo*os : hi*os]
		ly.Forward(hi-lo, p, &src, &dst)
	})
}

// EvalFrom runs the layers from, from+1, …, last of the network on the
// n = len(y) rows of a, the row-major n×w activations at boundary from (the
// input of layer from, w = Layers()[from].InSize(); for from = 0, the data),
// in chunks of Rows rows, and returns the summed loss Σᵢ ℓᵢ(θ) and the number
// of rows whose output argmax is the label, without the weight-decay
// penalty. Chunk by chunk it does what the forward pass of Loss does after
// boundary from, and it sums the chunks in the same order, so
// EvalFrom(0, θ, x, y) is n times Loss(θ, x, y)'s mean before the division
// (bit for bit), and the loss of a network whose first layers' output is
// known (see LayerForward) costs only the later layers.
func (ws *Workspace) EvalFrom(from int, theta, a []float64, y []int) (sum float64, correct int) {
	net := ws.net
	if from < 0 || from >= len(net.layers) {
		panic(fmt.Sprintf("nn: EvalFrom(%d) for a network of %d layers", from, len(net.layers)))
	}
	w := net.layers[from].InSize()
	if len(theta) != net.NumParams() || len(a) != len(y)*w {
		panic(fmt.Sprintf("nn: EvalFrom(%d): len(theta) = %d, len(a) = %d for P = %d, %d rows × %d",
			from, len(theta), len(a), net.NumParams(), len(y), w))
	}
	last := len(net.layers)
	ws.chunks(len(y), func(lo, hi int) {
		n := hi - lo
		in := ws.bufs[from] // a copy: the workspace keeps its own boundary memory
		in.A = a[lo*w : hi*w]
		net.layers[from].Forward(n, net.LayerParams(theta, from), &in, &ws.bufs[from+1])
		for l := from + 1; l < last; l++ {
			net.layers[l].Forward(n, net.LayerParams(theta, l), &ws.bufs[l], &ws.bufs[l+1])
		}
		s, c := net.loss.Eval(n, net.OutSize(), ws.bufs[last].A, y[lo:hi], 0, nil)
		sum += s
		correct += c
	})
	return sum, correct
}
