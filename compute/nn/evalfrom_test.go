package nn_test

import (
	"math"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// TestEvalFrom: EvalFrom from boundary 0 is Loss before the division, bit
// for bit; from boundary l on the output of LayerForward chained through
// layers 0…l−1 it is the same; the workspace's own state is untouched (a
// later Loss is unchanged); and, for a first layer linear in its
// parameters, the output for c₀v₀ + c₁v₁ is c₀ f(v₀) + c₁ f(v₁) to rounding.
func TestEvalFrom(t *testing.T) {
	cases := append(modelCases(), modelCase{"mlp/relu", func(t testing.TB) *nn.Network {
		net, err := nn.NewMLP(5, []int{7, 6}, 3, nn.ActReLU)
		return must(t, net, err)
	}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			net := c.net(t)
			p := netProblem(t, net, 23, 4)
			ws := net.NewWorkspace(7) // 4 chunks, the last partial
			loss, acc := ws.Loss(p.theta, p.x, p.y)
			lam, _ := net.WeightDecay()
			n := float64(len(p.y))
			sum, correct := ws.EvalFrom(0, p.theta, p.x, p.y)
			penalty := loss - sum/n
			if lam == 0 && (sum/n != loss || float64(correct)/n != acc) {
				t.Errorf("EvalFrom(0) = %v/%d, Loss = %v, %v", sum/n, correct, loss, acc)
			}
			if lam > 0 && !(penalty > 0) {
				t.Errorf("with weight decay, Loss − EvalFrom/n = %v, want the penalty > 0", penalty)
			}
			a := p.x
			for l := 0; l < len(net.Layers())-1; l++ {
				out := make([]float64, len(p.y)*net.Layers()[l].OutSize())
				ws.LayerForward(l, p.theta, a, out)
				a = out
				kept := slices.Clone(a)
				s, c := ws.EvalFrom(l+1, p.theta, a, p.y)
				if s != sum || c != correct {
					t.Errorf("EvalFrom(%d) = %v, %d, want %v, %d", l+1, s, c, sum, correct)
				}
				// The workspace computes in its own memory: the caller's
				// activations survive EvalFrom and a later Loss.
				if ws.Loss(p.theta, p.x, p.y); !slices.Equal(a, kept) {
					t.Errorf("EvalFrom(%d) then Loss overwrote the caller's activations", l+1)
				}
			}
			// Linearity of a parametrized first layer in its parameters.
			first := net.Layers()[0]
			if first.NumParams() == 0 {
				return
			}
			v := randVec(len(p.theta), 9)
			comb := make([]float64, len(p.theta))
			const c0, c1 = 0.7, -1.3
			for i := range comb {
				comb[i] = c0*p.theta[i] + c1*v[i]
			}
			m := len(p.y) * first.OutSize()
			f0, f1, fc := make([]float64, m), make([]float64, m), make([]float64, m)
			ws.LayerForward(0, p.theta, p.x, f0)
			ws.LayerForward(0, v, p.x, f1)
			ws.LayerForward(0, comb, p.x, fc)
			worst := 0.0
			for i := range fc {
				worst = max(worst, math.Abs(c0*f0[i]+c1*f1[i]-fc[i])/(1+math.Abs(fc[i])))
			}
			_, linear := first.(*nn.Dense)
			if _, ok := first.(*nn.Conv2D); ok {
				linear = true
			}
			if linear && worst > 1e-13 {
				t.Errorf("first layer not linear in its parameters: worst %v", worst)
			}
		})
	}
}
