package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// specials32 are the values whose handling the ReLU kernels must keep: both
// zeros, both infinities, quiet NaNs of both signs (x86's default NaN has
// its sign bit set), a subnormal and values either side of 0.
var specials32 = []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
	math.Float32frombits(0x7fc00000), math.Float32frombits(0xffc00000), math.Float32frombits(1),
	-math.Float32frombits(1), 1, -1, math.MaxFloat32, -math.MaxFloat32}

// draw32 returns n values, a quarter of them specials and the rest normal
// draws.
func draw32(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		if rng.IntN(4) == 0 {
			v[i] = specials32[rng.IntN(len(specials32))]
		} else {
			v[i] = float32(rng.NormFloat64())
		}
	}
	return v
}

// bits32 returns the bits of v with every NaN as the one canonical NaN:
// the sign and payload of a NaN that arithmetic produces are not part of
// any result (Go leaves them to the machine and to the compiler's operand
// order), while every other value must match bit for bit, −0 included.
func bits32(v []float32) []uint32 {
	b := make([]uint32, len(v))
	for i, x := range v {
		b[i] = math.Float32bits(x)
		if x != x {
			b[i] = 0x7fc00000
		}
	}
	return b
}

// bits64 is bits32 for float64.
func bits64(v []float64) []uint64 {
	b := make([]uint64, len(v))
	for i, x := range v {
		b[i] = math.Float64bits(x)
		if x != x {
			b[i] = 0x7ff8000000000000
		}
	}
	return b
}

// TestReLUKernels: relu32, mask32, mask and addWidened (the AVX2 kernels
// where the machine has them, then the Go loop for the tail) give the Go
// loops' results bit for bit (a NaN matching any NaN: see bits32), for
// every length from 0 to 70 (every tail) and
// 65,536, on draws with a quarter of special values (±0, ±∞, NaNs of both
// signs, subnormals, the largest floats); and relu32 keeps NaN and −0.
func TestReLUKernels(t *testing.T) {
	t.Logf("AVX2 kernels: %v", haveSIMD)
	rng := rand.New(rand.NewPCG(3, 4))
	lengths := append([]int{65536}, func() []int {
		var l []int
		for n := range 71 {
			l = append(l, n)
		}
		return l
	}()...)
	for _, n := range lengths {
		z := draw32(rng, n)
		want := slices.Clone(z)
		relu32Go(want)
		got := slices.Clone(z)
		relu32(got)
		if !slices.Equal(bits32(got), bits32(want)) {
			t.Fatalf("relu32, n = %d: differs from the Go loop", n)
		}
		for i, x := range z {
			if (math.IsNaN(float64(x)) && !math.IsNaN(float64(got[i]))) ||
				(x == 0 && math.Signbit(float64(x)) != math.Signbit(float64(got[i]))) ||
				(x > 0 && got[i] != x) || (x < 0 && (got[i] != 0 || math.Signbit(float64(got[i])))) {
				t.Fatalf("relu32(%v) = %v", x, got[i])
			}
		}

		d, y := draw32(rng, n), draw32(rng, n+3)
		want = slices.Clone(d)
		mask32Go(want, y)
		got = slices.Clone(d)
		mask32(got, y)
		if !slices.Equal(bits32(got), bits32(want)) {
			t.Fatalf("mask32, n = %d: differs from the Go loop", n)
		}

		src, a := make([]float64, n), make([]float64, n+1)
		for i := range src {
			src[i] = float64(d[i])
		}
		for i := range a {
			a[i] = float64(y[i])
		}
		w64, g64 := make([]float64, n), make([]float64, n)
		maskGo(w64, src, a)
		mask(g64, src, a)
		if !slices.Equal(bits64(g64), bits64(w64)) {
			t.Fatalf("mask, n = %d: differs from the Go loop", n)
		}

		acc := make([]float64, n+2)
		for i := range acc {
			acc[i] = rng.NormFloat64() * 1e3
		}
		wa, ga := slices.Clone(acc), slices.Clone(acc)
		for range 3 { // three rows of a column sum
			row := draw32(rng, n)
			addWidenedGo(wa, row)
			addWidened(ga, row)
		}
		if !slices.Equal(bits64(ga), bits64(wa)) {
			t.Fatalf("addWidened, n = %d: differs from the Go loop", n)
		}
	}
}

// BenchmarkReLUKernels times relu32 and mask32 over 65,536 values (a
// 128 × 512 layer of the reference MLP) with the kernels and with the Go
// loops.
func BenchmarkReLUKernels(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	z, y := draw32(rng, 65536), draw32(rng, 65536)
	w := slices.Clone(z)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"relu32", func() { copy(w, z); relu32(w) }},
		{"relu32Go", func() { copy(w, z); relu32Go(w) }},
		{"mask32", func() { copy(w, z); mask32(w, y) }},
		{"mask32Go", func() { copy(w, z); mask32Go(w, y) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.f()
			}
		})
	}
}
