package flatness_test

import (
	"math/rand/v2"
	"runtime/debug"
	"testing"
)

// BenchmarkKeskarDraw times the draw of the random subspace matrix A of
// keskar-f1 (669,706 × 100 standard Gaussians, in the order NewKeskarSpace
// draws them): "fresh" into a newly allocated slice, as NewKeskarSpace
// does, whose 536 MB come fresh from the operating system (the heap is
// returned to it before each draw, untimed) and are touched for the first
// time; "resident" into a slice
// filled before, which isolates the cost of sampling from that of the
// first touch of the memory. Run it with
//
//	go test -run '^$' -bench KeskarDraw -benchtime 3x ./compute/flatness/
func BenchmarkKeskarDraw(b *testing.B) {
	const rows, p = 669706, 100
	fill := func(raw []float64) {
		rng := rand.New(rand.NewPCG(1, 4))
		for i := range raw {
			raw[i] = rng.NormFloat64()
		}
	}
	b.Run("fresh", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			debug.FreeOSMemory() // the next slice comes from the OS, as in a new process
			b.StartTimer()
			fill(make([]float64, rows*p))
		}
	})
	b.Run("resident", func(b *testing.B) {
		raw := make([]float64, rows*p)
		fill(raw)
		for b.Loop() {
			fill(raw)
		}
	})
}
