package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		min, live, roots uint64
		base, want       int
	}{
		{256 << 20, 8 << 20, 0, 100, 3100},       // goal = 8 MiB · 32 = 256 MiB
		{256 << 20, 6 << 20, 2 << 20, 100, 3125}, // goal = 6 + 8 · 31.25 = 256 MiB
		{256 << 20, 1 << 20, 0, 100, 6400},       // the heap minimum: 4 MiB · 64 = 256 MiB
		{256 << 20, 0, 0, 100, 6400},             // before the first cycle
		{256 << 20, 128 << 20, 0, 100, 100},      // the base already reaches the floor
		{256 << 20, 512 << 20, 0, 100, 100},      // a large heap keeps the base
		{256 << 20, 100 << 20, 0, 200, 200},      // 156 < base
		{1 << 50, 1 << 20, 0, 100, maxPercent},   // capped
		{300 << 20, 200 << 20, 0, 10, 50},        // goal = 200 MiB · 1.5 = 300 MiB
	} {
		if got := Percent(c.min, c.base, c.live, c.roots); got != c.want {
			t.Errorf("Percent(min %d, base %d, live %d, roots %d) = %d, want %d", c.min, c.base, c.live, c.roots, got, c.want)
		}
	}
}

var sink []byte

// churn allocates n bytes of short-lived garbage in 4 KiB pieces, with a
// live heap of about 1 MiB.
func churn(n int) {
	keep := make([][]byte, 256)
	for i := 0; i < n/4096; i++ {
		b := make([]byte, 4096)
		keep[i%len(keep)] = b
		sink = b
	}
}

func cycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestFloorCollectsLessOften churns 512 MiB through a 1 MiB live heap with
// and without a 128 MiB floor: the default goal (about 4 MiB, the runtime's
// minimum) collects over a hundred times on an idle machine, the floor
// about 512/128 = 4 times (not much less either: the goal is the floor, not
// far above it); stop restores GOGC. On a loaded machine concurrent marking
// lags the allocation and the default goal collects fewer times (28 measured
// with the CPUs shared eightfold), so the test asks for a ratio, at least
// four times as many cycles without the floor, not a count.
func TestFloorCollectsLessOften(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	runtime.GC()
	c0 := cycles()
	churn(512 << 20)
	without := cycles() - c0

	stop := Floor(128 << 20)
	runtime.GC()
	c0 = cycles()
	churn(512 << 20)
	with := cycles() - c0
	stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC after stop = %d, want 100", got)
	}
	t.Logf("GC cycles over 512 MiB of garbage: %d without the floor, %d with a 128 MiB floor", without, with)
	if without < 4*with || with < 2 || with > 6 {
		t.Fatalf("GC cycles: %d without the floor (want ≥ 4 × %d), %d with it (want 2 to 6)", without, with, with)
	}
}
