package lease

import (
	"container/heap"
	"math"
	"time"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// numStates is the number of TrialState values (the enum is dense from 0).
const numStates = int(pb.TrialState_TRIAL_STATE_CANCELLED) + 1

// costFeatures returns the two work measures a trial's duration is modelled
// on: example-work w = u·B·P (the multiply–adds of training scale with it)
// and update-work u·P (a cost per parameter update that dominates for small
// batches), where u is the number of parameter updates (the step budget, or
// epochs·⌊N/B⌋) and P the parameter count of the trial's network (p, or
// computed from the spec when p is 0).
func costFeatures(t spec.Trial, p int) [2]float64 {
	if p == 0 {
		p = architectureParams(t)
	}
	n, b := float64(t.Dataset.N), float64(max(t.BatchSize, 1))
	u := float64(t.Steps)
	if t.Steps == 0 {
		u = float64(max(t.Epochs, 1)) * math.Floor(n/b)
	}
	return [2]float64{u * b * float64(p), u * float64(p)}
}

// architectureParams returns the parameter count of the trial's network,
// or 1 when the spec does not describe one.
func architectureParams(t spec.Trial) int {
	a, err := t.Architecture()
	if err != nil || a.Params == 0 {
		return 1
	}
	return a.Params
}

// costModel predicts a trial's duration as d ≈ a·w + b·u (see costFeatures),
// fitted by least squares with non-negative coefficients to the sweep's
// finished trials. The prior, before two trials have finished, is a = 1,
// b = 64: one update costs as much as 64 examples. Only the order of the
// predictions matters for scheduling.
type costModel struct {
	// flat makes every prediction 0, for the trial-ID order (see
	// Config.IDOrder).
	flat bool
	// Sums of the normal equations: Σw², Σwu, Σu², Σw·d, Σu·d.
	sww, swu, suu, swd, sud float64
	n                       int
	a, b                    float64
}

// newCostModel returns the prior model.
func newCostModel() costModel { return costModel{a: 1, b: 64} }

// predict returns the modelled duration.
func (m *costModel) predict(f [2]float64) float64 {
	if m.flat {
		return 0
	}
	return m.a*f[0] + m.b*f[1]
}

// observe adds a finished trial's duration and refits.
func (m *costModel) observe(f [2]float64, d time.Duration) {
	sec := d.Seconds()
	if sec <= 0 || math.IsNaN(sec) {
		return
	}
	m.sww += f[0] * f[0]
	m.swu += f[0] * f[1]
	m.suu += f[1] * f[1]
	m.swd += f[0] * sec
	m.sud += f[1] * sec
	m.n++
	if m.n < 2 {
		return
	}
	det := m.sww*m.suu - m.swu*m.swu
	if det <= 1e-9*m.sww*m.suu {
		// Collinear features (e.g. one batch size so far): keep the prior's
		// ratio and fit the scale.
		if den := m.a*m.swd + m.b*m.sud; den > 0 {
			scale := (m.a*m.swd + m.b*m.sud) / (m.a*m.a*m.sww + 2*m.a*m.b*m.swu + m.b*m.b*m.suu)
			m.a, m.b = scale*m.a, scale*m.b
		}
		return
	}
	a := (m.swd*m.suu - m.sud*m.swu) / det
	b := (m.sud*m.sww - m.swd*m.swu) / det
	switch {
	case a < 0:
		a, b = 0, m.sud/m.suu
	case b < 0:
		a, b = m.swd/m.sww, 0
	}
	m.a, m.b = a, b
}

// pendingTrial is a queued trial with its features and predicted cost, and
// what a lease on it needs besides: the attempts it has had and, when its
// spec can be spliced from a template (see Core.pending), the
// template and the values to splice into it. A lease on a
// trial with a template is granted without reading the store.
type pendingTrial struct {
	key     Key
	feat    [2]float64
	cost    float64
	attempt int32
	tmpl    *leaseTemplate // nil: the lease reads the spec from the store
	packed  uint64         // the trial's axis values, as indexes (see baseValues)
}

// costQueue is a max-heap of pending trials by predicted cost: the
// longest-processing-time-first order, which shortens the sweep's makespan
// on several workers.
type costQueue []*pendingTrial

func (q costQueue) Len() int { return len(q) }
func (q costQueue) Less(i, j int) bool {
	if q[i].cost != q[j].cost {
		return q[i].cost > q[j].cost
	}
	// Equal costs go in trial-ID order, the store's key order: consecutive
	// leases then touch neighbouring pages, so a group commit writes fewer.
	return q[i].key.Trial < q[j].key.Trial
}
func (q costQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *costQueue) Push(x any)   { *q = append(*q, x.(*pendingTrial)) }
func (q *costQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	// The backing array outlives the pop: without this, it would keep every
	// trial ever leased from the sweep (about 150 B each) reachable.
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return x
}

// sweepState is the coordinator's in-memory view of one sweep.
type sweepState struct {
	id        string
	priority  int32
	paused    bool
	cancelled bool
	counts    [numStates]int32
	total     int32
	queue     costQueue
	model     costModel
	fittedAt  int       // model.n at the last re-order
	reordered time.Time // time of the last re-order
	running   int
	finished  []time.Time // finish times within the last minute, for throughput
	needs                 // what a worker must offer to run its trials
}

func newSweepState(id string, idOrder bool) *sweepState {
	s := &sweepState{id: id, model: newCostModel(), needs: needs{slots: 1}}
	s.model.flat = idOrder
	return s
}

// push queues a pending trial at its predicted cost.
func (s *sweepState) push(p *pendingTrial) {
	p.cost = s.model.predict(p.feat)
	heap.Push(&s.queue, p)
}

// pushAll queues pending trials: one by one when they are few, else by
// appending them and restoring the heap in one O(n) pass.
func (s *sweepState) pushAll(ps []*pendingTrial) {
	if len(ps) < 64 {
		for _, p := range ps {
			s.push(p)
		}
		return
	}
	for _, p := range ps {
		p.cost = s.model.predict(p.feat)
	}
	s.queue = append(s.queue, ps...)
	heap.Init(&s.queue)
}

// pop removes the most expensive pending trial.
func (s *sweepState) pop() *pendingTrial {
	return heap.Pop(&s.queue).(*pendingTrial)
}

// reorderEvery bounds how often a sweep's queue is re-ordered after its cost
// model changed, besides when the model's data have doubled.
const reorderEvery = 5 * time.Second

// learn records a finished trial's duration and re-orders the queue when the
// fit has doubled its data since the last re-order (2, 4, 8, … trials), or at
// most every reorderEvery: re-ordering is O(queue) and the order changes
// little once the model has settled.
func (s *sweepState) learn(feat [2]float64, d time.Duration, now time.Time) {
	s.model.observe(feat, d)
	if s.model.n < 2*s.fittedAt && now.Sub(s.reordered) < reorderEvery {
		return
	}
	s.fittedAt, s.reordered = max(s.model.n, 1), now
	for _, p := range s.queue {
		p.cost = s.model.predict(p.feat)
	}
	heap.Init(&s.queue)
}

// markFinished records a finish time and drops those older than a minute.
func (s *sweepState) markFinished(now time.Time) {
	s.finished = append(s.finished, now)
	cut := 0
	for cut < len(s.finished) && now.Sub(s.finished[cut]) > time.Minute {
		cut++
	}
	s.finished = s.finished[cut:]
}

// rate returns trials finished per second over the last minute.
func (s *sweepState) rate(now time.Time) float64 {
	if len(s.finished) < 2 {
		return 0
	}
	span := now.Sub(s.finished[0]).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(len(s.finished)) / span
}

// done reports whether no trial of the sweep can run any more.
func (s *sweepState) done() bool {
	c := s.counts
	return c[pb.TrialState_TRIAL_STATE_SUCCEEDED]+c[pb.TrialState_TRIAL_STATE_DISCARDED]+c[pb.TrialState_TRIAL_STATE_CANCELLED] == s.total
}

// pickSweepLocked chooses the sweep to lease from for a worker with the
// given capabilities and free slots: the highest priority among sweeps with
// leasable trials it can run (a command only on a worker that runs
// commands, needing at most its GPUs and occupying at most its free slots),
// and among equals the one holding the fewest running trials (fair
// sharing), then the smallest ID. A sweep skipped for want of free slots
// keeps its queue, for a worker with more.
//
// With reserve (a worker that reports its free slots, of total slots in
// all), a sweep that it could run once more of its slots are free keeps a
// sweep of lower priority from them: it gets nothing, so that its slots
// free up for the higher priority instead of being taken one by one by
// smaller trials for ever.
func (c *Core) pickSweepLocked(caps Capabilities, free, total int32, reserve bool) *sweepState {
	var best, blocked *sweepState
	for _, s := range c.sweeps {
		if s.paused || s.cancelled || len(s.queue) == 0 || s.gpus > caps.GPUs || (s.command && !caps.Commands) {
			continue
		}
		if s.slots > free {
			if reserve && s.slots <= total && (blocked == nil || s.priority > blocked.priority) {
				blocked = s
			}
			continue
		}
		if best == nil || s.priority > best.priority ||
			(s.priority == best.priority && (s.running < best.running ||
				(s.running == best.running && s.id < best.id))) {
			best = s
		}
	}
	if blocked != nil && best != nil && blocked.priority > best.priority {
		return nil
	}
	return best
}
