package nn

import (
	"fmt"
	"math/rand/v2"
)

// MaxPool2D is non-overlapping max pooling with a Size×Size window and stride
// Size on NCHW images (C channels of H×W); the output is C × OH × OW with
// OH = ⌊H/Size⌋, OW = ⌊W/Size⌋ (trailing rows and columns that do not fill a
// window are dropped, as in PyTorch). It has no parameters.
//
// Let π(q) be the input position of the maximum of output q's window (the
// first maximum in row-major window order on ties). The layer is piecewise
// linear, Y_q = A_{π(q)}, so with π fixed
//
//	forward:    Y_q = A_{π(q)}
//	backward:   D_A[π(q)] = D_Y[q],  0 at positions that are no window's max
//	R-forward:  R{Y}_q = R{A}_{π(q)}
//	R-backward: R{D_A}[π(q)] = R{D_Y}[q],  0 elsewhere
//
// with no curvature term (the second derivative is zero off the null set of
// ties). π is recomputed from A in every pass instead of being stored.
type MaxPool2D struct {
	// C, H, W are the input channels, height and width.
	C, H, W int
	// Size is the window side and stride (2 for 2×2 pooling).
	Size int
}

func (mp *MaxPool2D) validate() error {
	if mp.C <= 0 || mp.Size <= 0 || mp.H < mp.Size || mp.W < mp.Size {
		return fmt.Errorf("%w: MaxPool2D C=%d H=%d W=%d Size=%d", ErrShape, mp.C, mp.H, mp.W, mp.Size)
	}
	return nil
}

// OutHW returns ⌊H/Size⌋, ⌊W/Size⌋.
func (mp *MaxPool2D) OutHW() (oh, ow int) { return mp.H / mp.Size, mp.W / mp.Size }

// InSize returns C·H·W.
func (mp *MaxPool2D) InSize() int { return mp.C * mp.H * mp.W }

// OutSize returns C·OH·OW.
func (mp *MaxPool2D) OutSize() int {
	oh, ow := mp.OutHW()
	return mp.C * oh * ow
}

// NumParams returns 0.
func (mp *MaxPool2D) NumParams() int { return 0 }

// Init does nothing.
func (mp *MaxPool2D) Init([]float64, *rand.Rand) {}

// each calls f(q, π(q)) for every output q of one example a, with both
// indices relative to the example.
func (mp *MaxPool2D) each(a []float64, f func(q, src int)) {
	oh, ow := mp.OutHW()
	s := mp.Size
	q := 0
	for c := 0; c < mp.C; c++ {
		base := c * mp.H * mp.W
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				top := base + oy*s*mp.W + ox*s
				arg := top
				m := a[arg]
				for dy := 0; dy < s; dy++ {
					row := top + dy*mp.W
					for dx := 0; dx < s; dx++ {
						if a[row+dx] > m {
							m, arg = a[row+dx], row+dx
						}
					}
				}
				f(q, arg)
				q++
			}
		}
	}
}

// Forward sets out.A_q = in.A_{π(q)}.
func (mp *MaxPool2D) Forward(n int, _ []float64, in, out *Buf) {
	is, os := mp.InSize(), mp.OutSize()
	for i := 0; i < n; i++ {
		a, y := in.A[i*is:(i+1)*is], out.A[i*os:(i+1)*os]
		mp.each(a, func(q, src int) { y[q] = a[src] })
	}
}

// route sets dst (input-shaped) to src (output-shaped) routed through π: dst
// is zero except dst[π(q)] = src[q].
func (mp *MaxPool2D) route(n int, a, dst, src []float64) {
	is, os := mp.InSize(), mp.OutSize()
	for i := 0; i < n; i++ {
		d, s := dst[i*is:(i+1)*is], src[i*os:(i+1)*os]
		clear(d)
		mp.each(a[i*is:(i+1)*is], func(q, p int) { d[p] = s[q] })
	}
}

// Backward sets in.D = out.D routed to the window maxima.
func (mp *MaxPool2D) Backward(n int, _, _ []float64, in, out *Buf) {
	if in.D != nil {
		mp.route(n, in.A, in.D, out.D)
	}
}

// RForward sets out.RA_q = in.RA_{π(q)} (0 when in.RA is nil).
func (mp *MaxPool2D) RForward(n int, _, _ []float64, in, out *Buf) {
	is, os := mp.InSize(), mp.OutSize()
	if in.RA == nil {
		clear(out.RA[:n*os])
		return
	}
	for i := 0; i < n; i++ {
		a, ra, ry := in.A[i*is:(i+1)*is], in.RA[i*is:(i+1)*is], out.RA[i*os:(i+1)*os]
		mp.each(a, func(q, src int) { ry[q] = ra[src] })
	}
}

// RBackward sets in.RD = out.RD routed to the window maxima.
func (mp *MaxPool2D) RBackward(n int, _, _, _ []float64, in, out *Buf) {
	if in.RD != nil {
		mp.route(n, in.A, in.RD, out.RD)
	}
}
