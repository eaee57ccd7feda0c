package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// faultKind names a kind of fault; it is also the flag that sets its rate.
type faultKind string

// The kinds of fault, in the order the summary lists them.
const (
	workerKill faultKind = "worker-kill" // SIGKILL a worker, start a replacement
	workerStop faultKind = "worker-stop" // SIGSTOP a worker past the lease TTL, then SIGCONT
	coordKill  faultKind = "coord-kill"  // SIGKILL the coordinator, restart it on the same database
	coordStop  faultKind = "coord-stop"  // SIGSTOP the coordinator past the lease TTL, then SIGCONT
	connReset  faultKind = "reset"       // reset the TCP connections of one worker or of all
	partition  faultKind = "partition"   // reset and refuse connections of one worker or of all for a while
	stall      faultKind = "stall"       // hold every byte of one worker's or all connections for a while
)

// faultKinds lists every kind, in summary order.
var faultKinds = []faultKind{workerKill, workerStop, coordKill, coordStop, connReset, partition, stall}

// describe is a kind's line in the summary.
func (k faultKind) describe() string {
	switch k {
	case workerKill:
		return "worker SIGKILL (replaced)"
	case workerStop:
		return "worker SIGSTOP past the lease TTL"
	case coordKill:
		return "coordinator SIGKILL (restarted)"
	case coordStop:
		return "coordinator SIGSTOP past the lease TTL"
	case connReset:
		return "connection reset"
	case partition:
		return "partition (connections refused)"
	case stall:
		return "stall (bytes held)"
	}
	return string(k)
}

// schedule draws the faults of a run from a seeded generator: a Poisson
// process of the summed rate, each fault's kind drawn by rate, except that
// the first faults are every kind with a positive rate once, in a shuffled
// order (the deck), so that a short run still sees each kind. Deck fault i of
// K is also due, at the latest, once (i+1)/(K+2) of the sweep's trials are
// done, so that a sweep that runs faster than the schedule still meets every
// kind while trials run.
type schedule struct {
	rng   *rand.Rand
	kinds []faultKind
	rates []float64
	total float64 // faults per minute
	deck  []faultKind
	dealt int // deck faults returned so far
}

// fault is one scheduled fault: its kind, the wait after the previous one,
// and for a deck fault the share of the sweep's trials done by which it is
// due even when the wait has not passed (0 for the others).
type fault struct {
	kind  faultKind
	wait  time.Duration
	share float64
}

func newSchedule(seed uint64, rates map[faultKind]float64) *schedule {
	s := &schedule{rng: rand.New(rand.NewPCG(seed, 0x6368616f73))}
	for _, k := range faultKinds {
		if r := rates[k]; r > 0 {
			s.kinds = append(s.kinds, k)
			s.rates = append(s.rates, r)
			s.total += r
		}
	}
	s.deck = append([]faultKind(nil), s.kinds...)
	s.rng.Shuffle(len(s.deck), func(i, j int) { s.deck[i], s.deck[j] = s.deck[j], s.deck[i] })
	return s
}

// next returns the next fault; ok is false when no kind has a positive rate.
func (s *schedule) next() (f fault, ok bool) {
	if s.total == 0 {
		return fault{}, false
	}
	f.wait = time.Duration(s.rng.ExpFloat64() / s.total * float64(time.Minute))
	if s.dealt < len(s.deck) {
		f.kind = s.deck[s.dealt]
		s.dealt++
		f.share = float64(s.dealt) / float64(len(s.deck)+2)
		return f, true
	}
	x := s.rng.Float64() * s.total
	f.kind = s.kinds[len(s.kinds)-1]
	for i, r := range s.rates {
		if x < r {
			f.kind = s.kinds[i]
			break
		}
		x -= r
	}
	return f, true
}

// inject runs the fault schedule until ctx ends. A fault that cannot be
// applied (a stop when every worker is stopped) is skipped and not counted.
func (h *harness) inject(ctx context.Context) {
	s := newSchedule(h.cfg.Seed, h.cfg.Rates)
	grid := gridSize(h.cfg)
	for {
		f, ok := s.next()
		if !ok {
			<-ctx.Done()
			return
		}
		if !h.awaitFault(ctx, f, grid) {
			return
		}
		k := f.kind
		if err := h.apply(ctx, s.rng, k); err != nil {
			if ctx.Err() != nil {
				return
			}
			h.event("%s: %v", k, err)
			h.addProblem(fmt.Sprintf("%s: %v", k, err))
		}
	}
}

// awaitFault waits until f is due: its wait has passed or, for a deck fault,
// its share of the grid's trials is done. It reports whether ctx is still live.
func (h *harness) awaitFault(ctx context.Context, f fault, grid int) bool {
	t := time.NewTimer(f.wait)
	defer t.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-tick.C:
			if f.share > 0 && float64(h.done.Load()) >= f.share*float64(grid) {
				return true
			}
		}
	}
}

// apply injects one fault of kind k.
func (h *harness) apply(ctx context.Context, rng *rand.Rand, k faultKind) error {
	ttl := h.cfg.LeaseTTL
	switch k {
	case workerKill:
		i := rng.IntN(len(h.proxies))
		h.mu.Lock()
		w := h.workers[i]
		h.mu.Unlock()
		stopped := w.isStopped()
		w.kill()
		h.count(k)
		delay := jitter(rng, 0, 500*time.Millisecond)
		h.event("worker-kill %s (pid %d%s); replacement in %s", w.name, w.pid(), map[bool]string{true: ", stopped", false: ""}[stopped], delay.Round(time.Millisecond))
		if !sleepCtx(ctx, delay) {
			return nil
		}
		return h.startWorker(i)
	case workerStop:
		var live []int
		h.mu.Lock()
		for i, w := range h.workers {
			if !w.isStopped() && !w.exited() {
				live = append(live, i)
			}
		}
		h.mu.Unlock()
		if len(live) == 0 {
			h.event("worker-stop skipped: every worker is stopped")
			return nil
		}
		i := live[rng.IntN(len(live))]
		d := jitter(rng, ttl*6/5, 2*ttl)
		h.mu.Lock()
		w := h.workers[i]
		h.mu.Unlock()
		w.stop(d)
		h.count(k)
		h.event("worker-stop %s (pid %d) for %s", w.name, w.pid(), d.Round(time.Millisecond))
	case coordKill:
		h.coordMu.Lock()
		defer h.coordMu.Unlock()
		h.mu.Lock()
		c := h.coord
		h.mu.Unlock()
		c.kill()
		h.count(k)
		down := jitter(rng, 0, time.Second)
		h.event("coord-kill %s (pid %d); restart in %s", c.name, c.pid(), down.Round(time.Millisecond))
		if !sleepCtx(ctx, down) {
			return nil
		}
		t0 := time.Now()
		if err := h.startCoordinator(ctx); err != nil {
			return fmt.Errorf("restart the coordinator: %w", err)
		}
		h.event("coordinator restarted at %s in %s", h.addr(), time.Since(t0).Round(time.Millisecond))
	case coordStop:
		h.coordMu.Lock()
		defer h.coordMu.Unlock()
		h.mu.Lock()
		c := h.coord
		h.mu.Unlock()
		if c.isStopped() || c.exited() {
			h.event("coord-stop skipped: the coordinator is stopped or down")
			return nil
		}
		d := jitter(rng, ttl*6/5, 2*ttl)
		c.stop(d)
		h.count(k)
		h.event("coord-stop %s (pid %d) for %s", c.name, c.pid(), d.Round(time.Millisecond))
	case connReset:
		ps, scope := h.pickProxies(rng)
		n := 0
		for _, p := range ps {
			n += p.reset()
		}
		h.count(k)
		h.event("reset %s: %d connections", scope, n)
	case partition:
		ps, scope := h.pickProxies(rng)
		d := jitter(rng, h.cfg.CutMax/4, h.cfg.CutMax)
		n := 0
		for _, p := range ps {
			n += p.partition(d)
		}
		h.count(k)
		h.event("partition %s for %s: %d connections reset", scope, d.Round(time.Millisecond), n)
	case stall:
		ps, scope := h.pickProxies(rng)
		d := jitter(rng, h.cfg.CutMax/4, h.cfg.CutMax)
		for _, p := range ps {
			p.stall(d)
		}
		h.count(k)
		h.event("stall %s for %s", scope, d.Round(time.Millisecond))
	}
	return nil
}

// pickProxies picks the proxy of one worker, or (one time in three) all of them.
func (h *harness) pickProxies(rng *rand.Rand) ([]*proxy, string) {
	if len(h.proxies) > 1 && rng.IntN(3) == 0 {
		return h.proxies, "all workers"
	}
	i := rng.IntN(len(h.proxies))
	return h.proxies[i : i+1], fmt.Sprintf("worker %d", i)
}

// count records an injected fault.
func (h *harness) count(k faultKind) {
	h.mu.Lock()
	h.faults[k]++
	h.mu.Unlock()
}

// sleepCtx sleeps for d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
