// Package gctune keeps the garbage collector's heap goal above a floor.
//
// The Go runtime starts a collection when the heap reaches
//
//	goal = max(live + (live + roots)·GOGC/100, 4 MiB·GOGC/100),
//
// where live is the heap that survived the previous cycle and roots the
// goroutine stacks and globals it scanned. A process whose
// live heap is small but which allocates quickly — a coordinator turning
// leases around thousands of times a second — then collects many times a
// second, and on a two-core machine every mark phase takes most of a core
// for milliseconds: the tail of its request latency follows the collector's
// rhythm. Floor raises the goal to at least min bytes by setting, after
// every cycle, the least GOGC that does so (but not less than base):
//
//	GOGC = max(base, min(100·(min − live)/(live + roots), 100·min/4 MiB)),
//
// so that a small heap is collected rarely (it may grow to min before it
// is), while a large one (live + roots ≥ min/2 with the default GOGC of
// 100) keeps the base GOGC and the runtime's own pacing.
package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultFloor is the heap goal floor that `flatsweep coordinator` keeps
// unless told otherwise (--heap-floor-mib): 256 MiB.
const DefaultFloor = 256 << 20

// maxPercent caps the GOGC that Floor sets.
const maxPercent = 1 << 20

// tuner adjusts GOGC after every collection.
type tuner struct {
	min  uint64
	base int

	mu      sync.Mutex
	stopped bool
	sample  []metrics.Sample
}

// Floor keeps the heap goal at least min bytes until stop is called, which
// restores the GOGC that was in force. It does nothing (and stop does
// nothing) when min is 0 or the collector is off (GOGC=off).
func Floor(min uint64) (stop func()) {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if min == 0 || base < 0 {
		return func() {}
	}
	t := &tuner{min: min, base: base, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}}
	t.adjust()
	t.arm()
	return func() {
		t.mu.Lock()
		t.stopped = true
		t.mu.Unlock()
		debug.SetGCPercent(base)
	}
}

// sentinel is unreachable from the moment it is armed: its finalizer runs
// once the next collection has found it, which is how the tuner hears of
// every cycle. (It holds a pointer so that it is not a tiny allocation,
// whose finalizer could wait for its neighbours.)
type sentinel struct{ t *tuner }

// arm sets a sentinel for the next collection.
func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{t}, func(s *sentinel) {
		if s.t.adjust() {
			s.t.arm()
		}
	})
}

// adjust sets GOGC from the live heap of the last cycle; false once stopped.
func (t *tuner) adjust() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.sample)
	var v [3]uint64
	for i, s := range t.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	debug.SetGCPercent(Percent(t.min, t.base, v[0], v[1]+v[2]))
	return true
}

// heapMinimum is the runtime's smallest heap goal at GOGC=100; it scales
// with GOGC.
const heapMinimum = 4 << 20

// Percent returns the least GOGC, but not less than base, that puts the heap
// goal at min bytes or more after a cycle that left live bytes of heap and
// scanned roots bytes of stacks and globals (see the package comment); it
// is capped at 2^20.
func Percent(min uint64, base int, live, roots uint64) int {
	if live >= min {
		return base
	}
	want := math.Ceil(100 * float64(min) / heapMinimum)
	if live+roots > 0 {
		want = math.Min(want, math.Ceil(100*float64(min-live)/float64(live+roots)))
	}
	if want <= float64(base) {
		return base
	}
	return int(math.Min(want, maxPercent))
}
