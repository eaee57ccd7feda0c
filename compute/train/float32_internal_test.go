package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestUpdater32MatchesUpdater runs the float32 update rules next to the
// float64 ones on the same float32 gradients for 20 steps and checks the
// parameters agree to 1e-5 of their size (float32 rounding of about a
// hundred operations).
func TestUpdater32MatchesUpdater(t *testing.T) {
	for name, opt := range map[string]Optimizer{
		"sgd": {}, "momentum": {Momentum: 0.9}, "nesterov": {Momentum: 0.5, Nesterov: true},
		"adam": {Kind: KindAdam}, "adam betas": {Kind: KindAdam, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6},
	} {
		const p = 50
		rng := rand.New(rand.NewPCG(1, 2))
		th64, th32 := make([]float64, p), make([]float32, p)
		for i := range th32 {
			th32[i] = float32(rng.NormFloat64())
			th64[i] = float64(th32[i])
		}
		u64, err := NewUpdater(opt, p)
		if err != nil {
			t.Fatal(err)
		}
		u32 := newUpdater32(opt, p)
		g64, g32 := make([]float64, p), make([]float32, p)
		for range 20 {
			for i := range g32 {
				g32[i] = float32(rng.NormFloat64())
				g64[i] = float64(g32[i])
			}
			u64.Step(th64, g64, 0.01)
			u32.step(th32, g32, 0.01)
		}
		for i := range th32 {
			if d := math.Abs(float64(th32[i]) - th64[i]); d > 1e-5*math.Max(1, math.Abs(th64[i])) {
				t.Errorf("%s: θ[%d] = %v in float32, %v in float64", name, i, th32[i], th64[i])
				break
			}
		}
	}
}
