package nn_test

import (
	"math"
	"runtime"
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// bitsEqual reports whether a and b are identical bit for bit.
func bitsEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// TestDeterministic checks that gradients and Hessian-vector products are
// bit-identical across repeated calls, fresh workspaces and GOMAXPROCS
// settings, on matrices large enough for the BLAS backend to split its
// products across threads (the reduction order of every entry is fixed).
func TestDeterministic(t *testing.T) {
	net, err := nn.NewMLP(96, []int{160, 160}, 10, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	p := netProblem(t, net, 300, 3)
	v := randVec(len(p.theta), 4)
	eval := func() (g, hv []float64) {
		ws := p.net.NewWorkspace(128)
		g, hv = make([]float64, len(p.theta)), make([]float64, len(p.theta))
		ws.LossGrad(g, p.theta, p.x, p.y)
		ws.HVP(hv, p.theta, v, p.x, p.y)
		return g, hv
	}
	g0, hv0 := eval()
	for _, procs := range []int{1, 2, 4} {
		old := runtime.GOMAXPROCS(procs)
		g, hv := eval()
		runtime.GOMAXPROCS(old)
		if !bitsEqual(g, g0) || !bitsEqual(hv, hv0) {
			t.Errorf("GOMAXPROCS=%d: results differ from the first evaluation", procs)
		}
	}
}
