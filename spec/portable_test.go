package spec

import (
	"math"
	"testing"
)

// TestPortableExpLog: the portable exp and log agree with package math to
// within 2 ulp (each is within 1 ulp of the exact value) over the range of the draws (|x| ≤ 700 for exp, 10⁻³⁰⁰ to
// 10³⁰⁰ for log).
func TestPortableExpLog(t *testing.T) {
	ulps := func(a, b float64) float64 {
		return math.Abs(a-b) / (math.Nextafter(math.Abs(b), math.Inf(1)) - math.Abs(b))
	}
	for i := range 200001 {
		x := -700 + 1400*float64(i)/200000
		if d := ulps(portableExp(x), math.Exp(x)); d > 2 {
			t.Fatalf("exp(%v): %v, math %v (%.1f ulp)", x, portableExp(x), math.Exp(x), d)
		}
		y := math.Pow(10, -300+600*float64(i)/200000)
		if d := ulps(portableLog(y), math.Log(y)); d > 2 {
			t.Fatalf("log(%v): %v, math %v (%.1f ulp)", y, portableLog(y), math.Log(y), d)
		}
	}
	if portableExp(0) != 1 || portableLog(1) != 0 || portableLog(math.E) != 1 {
		t.Errorf("exp(0) %v, log(1) %v, log(e) %v", portableExp(0), portableLog(1), portableLog(math.E))
	}
}
