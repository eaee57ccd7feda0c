package nn

import "fmt"

// Workspace holds the scratch memory for evaluating a Network on batches of up
// to Rows examples at a time. Longer inputs are processed in consecutive
// chunks of Rows examples; the per-chunk contributions are accumulated in
// chunk order, so the results are deterministic. Repeated calls do not
// allocate. A Workspace must not be used concurrently.
type Workspace struct {
	net  *Network
	rows int
	bufs []Buf // bufs[j] is boundary j; bufs[0].A aliases the input chunk
}

// NewWorkspace allocates a workspace for chunks of at most rows examples
// (rows < 1 is treated as 1).
func (net *Network) NewWorkspace(rows int) *Workspace {
	return net.newWorkspace(max(rows, 1), nil)
}

// newWorkspace allocates a workspace; when share is non-nil the R-operator
// buffers (RA, RD) are taken from share instead of being allocated.
func (net *Network) newWorkspace(rows int, share *Workspace) *Workspace {
	ws := &Workspace{net: net, rows: rows, bufs: make([]Buf, len(net.layers)+1)}
	for j := 1; j <= len(net.layers); j++ {
		m := rows * net.layers[j-1].OutSize()
		b := Buf{A: make([]float64, m), D: make([]float64, m)}
		if share != nil {
			b.RA, b.RD = share.bufs[j].RA, share.bufs[j].RD
		} else {
			b.RA, b.RD = make([]float64, m), make([]float64, m)
		}
		ws.bufs[j] = b
	}
	return ws
}

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
func (ws *Workspace) forward(theta, x []float64, n int) {
	ws.bufs[0].A = x
	for l, ly := range ws.net.layers {
		ly.Forward(n, ws.net.LayerParams(theta, l), &ws.bufs[l], &ws.bufs[l+1])
	}
}

// backward evaluates the loss with scale s on the last forward pass, sets every
// D and, when grad is non-nil, adds s·Σᵢ∇ℓᵢ to grad.
func (ws *Workspace) backward(theta []float64, y []int, n int, s float64, grad []float64) (float64, int) {
	net := ws.net
	last := len(net.layers)
	sum, correct := net.loss.Eval(n, net.OutSize(), ws.bufs[last].A, y, s, ws.bufs[last].D)
	for l := last - 1; l >= 0; l-- {
		var g []float64
		if grad != nil {
			g = net.LayerParams(grad, l)
		}
		net.layers[l].Backward(n, net.LayerParams(theta, l), g, &ws.bufs[l], &ws.bufs[l+1])
	}
	return sum, correct
}

// rpass runs the R-forward and R-backward passes for direction v on the state
// left by forward and backward and adds s·Σᵢ∇²ℓᵢ v to hv.
func (ws *Workspace) rpass(theta, v, hv []float64, y []int, n int, s float64) {
	net := ws.net
	last := len(net.layers)
	for l, ly := range net.layers {
		ly.RForward(n, net.LayerParams(theta, l), net.LayerParams(v, l), &ws.bufs[l], &ws.bufs[l+1])
	}
	out := &ws.bufs[last]
	net.loss.HessVec(n, net.OutSize(), out.A, y, s, out.RA, out.RD)
	for l := last - 1; l >= 0; l-- {
		net.layers[l].RBackward(n, net.LayerParams(theta, l), net.LayerParams(v, l),
			net.LayerParams(hv, l), &ws.bufs[l], &ws.bufs[l+1])
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
// row-major n×d matrix x. It runs the forward pass only.
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
	return sum / float64(n), float64(correct) / float64(n)
}

// LossGrad sets grad = ∇L(θ) for the mean loss L = (1/n) Σᵢ ℓᵢ over the rows of
// x and returns L and the accuracy.
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
		ls, c := ws.backward(theta, y[lo:hi], hi-lo, s, grad)
		sum += ls
		correct += c
	})
	return sum / float64(n), float64(correct) / float64(n)
}

// HVP sets hv = ∇²L(θ) v, the exact Hessian-vector product of the mean loss
// over the rows of x (R-operator, forward-over-reverse), and returns L(θ).
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
		ls, _ := ws.backward(theta, y[lo:hi], hi-lo, s, nil)
		ws.rpass(theta, v, hv, y[lo:hi], hi-lo, s)
		sum += ls
	})
	return sum / float64(n)
}
