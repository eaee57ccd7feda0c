package lease

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// Submitted reports what a submission did.
type Submitted struct {
	// Sweep is the sweep after submission, with its counts.
	Sweep *pb.Sweep
	// Created is true when the sweep did not exist before.
	Created bool
	// Added is the number of trials this submission added.
	Added int
}

// Submit validates a sweep (as parsed and resolved by the client: see
// spec.Sweep.ResolveFiles) and stores it with those of its trials that are
// not stored yet, which it queues: resubmitting never duplicates work. yaml
// is the sweep file's text, kept for display. An invalid sweep is
// ErrInvalid with the problems in the message.
func (c *Core) Submit(s spec.Sweep, yaml string, priority int32) (Submitted, error) {
	if err := s.Validate(); err != nil {
		return Submitted{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := requireDigests(s); err != nil {
		return Submitted{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	s = s.Resolved()
	canon, err := json.Marshal(s)
	if err != nil {
		return Submitted{}, fmt.Errorf("canonical sweep: %w", err)
	}
	now := timestamppb.New(c.cfg.Clock.Now())
	trials, feats, bases, err := buildTrials(s, now)
	if err != nil {
		return Submitted{}, err
	}
	sw := &pb.Sweep{Id: s.Name, SpecYaml: yaml, SpecJson: string(canon), CreateTime: now, Priority: priority}
	// The submit lock keeps two submissions of one sweep from both adding
	// the same trials to the queue.
	c.submitMu.Lock()
	added, created, err := c.store.PutSweep(sw, trials, bases)
	// On an error, the trials an existing sweep got before it are stored
	// all the same: queue them too.
	if err == nil || len(added) > 0 {
		queued := make([]*pendingTrial, len(added))
		for i, t := range added {
			queued[i] = c.pending(t, feats[t.Index])
		}
		c.mu.Lock()
		st := c.sweeps[s.Name]
		if st == nil {
			st = newSweepState(s.Name, c.cfg.IDOrder)
			c.sweeps[s.Name] = st
		}
		if err == nil {
			st.priority = priority
			st.needs = needsOfSpec(s)
		}
		st.pushAll(queued)
		st.counts[pb.TrialState_TRIAL_STATE_PENDING] += int32(len(added))
		st.total += int32(len(added))
		if len(added) > 0 {
			c.wakeLocked()
		}
		c.mu.Unlock()
		if len(added) > 0 {
			c.changed(s.Name)
		}
	}
	c.submitMu.Unlock()
	if err != nil {
		return Submitted{}, err
	}
	out, err := c.Sweep(s.Name)
	if err != nil {
		return Submitted{}, err
	}
	c.log.Info("sweep submitted", "sweep", s.Name, "created", created, "trials", len(trials), "added", len(added))
	if n := needsOfSpec(s); n.slots > 1 {
		if most := c.mostSlots(); most < n.slots {
			c.log.Warn("no registered worker has the slots this sweep's trials occupy: they wait for one that does",
				"sweep", s.Name, "command_slots", n.slots, "most_slots", most)
		}
	}
	return Submitted{Sweep: out, Created: created, Added: len(added)}, nil
}

// mostSlots returns the most slots of a registered worker that runs
// commands, 0 when there is none.
func (c *Core) mostSlots() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var most int32
	for _, w := range c.workers {
		if w.pb.Commands {
			most = max(most, w.pb.Slots)
		}
	}
	return most
}

// requireDigests checks that a sweep's files are identified by their
// content: the coordinator cannot read them, so the client must have filled
// in their digests (spec.Sweep.ResolveFiles).
func requireDigests(s spec.Sweep) error {
	if s.Dataset.Name != spec.DatasetSynthetic && s.Dataset.SHA256 == "" {
		return &spec.FieldError{Field: "dataset.sha256", Problem: "required: a file dataset is identified by the digest of its files (flatsweep submit computes it where the files are)"}
	}
	if w := s.Train.WarmStart; w.Path != "" && w.SHA256 == "" {
		return &spec.FieldError{Field: "train.warm_start.sha256", Problem: "required: a warm start is identified by the digest of its file (flatsweep submit computes it where the file is)"}
	}
	for _, a := range s.Swept() {
		if a.Path != "warm_start" && a.Path != "warm_start.path" {
			continue
		}
		for i, v := range a.Values {
			if w, ok := v.(spec.WarmStart); !ok || w.Path != "" && w.SHA256 == "" {
				return &spec.FieldError{Field: fmt.Sprintf("%s[%d]", a.Source, i), Problem: "required: the digest of the warm-start file, {path, sha256} (flatsweep submit computes it where the file is)"}
			}
		}
	}
	return nil
}

// buildTrials builds the stored form of a submission's trials, streaming the
// grid: one store.Base (the sweep's spec and the paths of its swept axes) and
// each trial's exact axis values, plus each trial's cost features by grid
// index. A trial's spec rebuilt from base and values is its expanded spec,
// field for field: the values are the canonical JSON of the grid's values.
func buildTrials(s spec.Sweep, now *timestamppb.Timestamp) ([]*pb.Trial, [][2]float64, map[string][]byte, error) {
	total := s.Len()
	trials := make([]*pb.Trial, total)
	feats := make([][2]float64, total)
	structs := make([]pb.Trial, total) // one allocation for all trials
	e := sweeps.NewExpander(s)
	k := len(e.Axes)
	values := make([]string, total*k) // and one for all axis values
	base := store.Base{Spec: s.Base()}
	for _, a := range e.Axes {
		base.Axes = append(base.Axes, a.Path)
		if err := spec.SetJSON(&base.Spec, a.Path, "null"); err != nil { // the field's zero value
			return nil, nil, nil, err
		}
	}
	baseID, baseJSON, err := base.Encode()
	if err != nil {
		return nil, nil, nil, err
	}
	p := architectureParams(s.Base())
	e.Each(func(t *sweeps.Trial) {
		pt := &structs[t.Index]
		pt.SweepId, pt.Id, pt.State, pt.Index, pt.UpdateTime = s.Name, t.ID, pb.TrialState_TRIAL_STATE_PENDING, int32(t.Index), now
		pt.BaseId = baseID
		pt.AxisValues = values[t.Index*k : (t.Index+1)*k : (t.Index+1)*k]
		for j := range e.Axes {
			pt.AxisValues[j] = e.Value(j)
		}
		trials[t.Index] = pt
		feats[t.Index] = costFeatures(t.Spec, p)
	})
	return trials, feats, map[string][]byte{baseID: baseJSON}, nil
}

// Sweep returns a stored sweep with its live counts and settings.
func (c *Core) Sweep(id string) (*pb.Sweep, error) {
	sw, err := c.store.GetSweep(id)
	if err != nil {
		return nil, err
	}
	c.Fill(sw)
	return sw, nil
}

// Sweeps returns every stored sweep with its live counts and settings.
func (c *Core) Sweeps() ([]*pb.Sweep, error) {
	sws, err := c.store.ListSweeps()
	if err != nil {
		return nil, err
	}
	for _, sw := range sws {
		c.Fill(sw)
	}
	return sws, nil
}

// Fill copies the live counts and settings into a sweep message.
func (c *Core) Fill(sw *pb.Sweep) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.sweeps[sw.Id]
	sw.StateCounts = map[string]int32{}
	if st == nil {
		return
	}
	for i, n := range st.counts {
		if n > 0 {
			sw.StateCounts[store.StateName(pb.TrialState(i))] = n
		}
	}
	sw.TrialCount = st.total
	sw.Priority, sw.Paused, sw.Cancelled = st.priority, st.paused, st.cancelled
}

// Progress reports how a sweep is going: trials finished per second over
// the last minute, the time left at that rate (0 when unknown, and while
// the sweep is paused or cancelled) and whether every trial is finished.
// exists is false for an unknown sweep.
func (c *Core) Progress(id string) (rate float64, left time.Duration, done, exists bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.sweeps[id]
	if st == nil {
		return 0, 0, true, false
	}
	rate = st.rate(c.cfg.Clock.Now())
	remaining := st.total - st.counts[pb.TrialState_TRIAL_STATE_SUCCEEDED] -
		st.counts[pb.TrialState_TRIAL_STATE_DISCARDED] - st.counts[pb.TrialState_TRIAL_STATE_CANCELLED]
	if rate > 0 && !st.paused && !st.cancelled {
		left = time.Duration(float64(remaining) / rate * float64(time.Second))
	}
	return rate, left, st.done(), true
}

// setSweepFlags persists a change to a sweep's paused/cancelled flags and
// applies it to the scheduler.
func (c *Core) setSweepFlags(id string, fn func(*pb.Sweep)) error {
	sw, err := c.store.UpdateSweep(id, func(sw *pb.Sweep) error { fn(sw); return nil })
	if err != nil {
		return err
	}
	c.mu.Lock()
	if st := c.sweeps[id]; st != nil {
		st.paused, st.cancelled = sw.Paused, sw.Cancelled
		c.wakeLocked()
	}
	c.mu.Unlock()
	return nil
}

// Pause stops leasing a sweep's pending trials until Resume; running trials
// go on.
func (c *Core) Pause(id string) (*pb.Sweep, error) { return c.setPaused(id, true) }

// Resume leases a paused sweep's pending trials again. A cancelled sweep it
// reopens: the cancel is cleared and the trials the cancel stopped — which
// have no result, since only pending, failed and running trials are
// cancelled — are pending again, with the trials submitted since. Results
// recorded before the cancel are kept, and a result sent for a lease the
// cancel ended is still refused: the trial runs again under a new lease.
func (c *Core) Resume(id string) (*pb.Sweep, error) {
	sw, err := c.store.GetSweep(id)
	if err != nil {
		return nil, err
	}
	if sw.Cancelled {
		if err := c.reopen(id); err != nil {
			return nil, err
		}
	}
	return c.setPaused(id, false)
}

// reopen clears a sweep's cancel and queues its cancelled trials again.
func (c *Core) reopen(id string) error {
	if err := c.setSweepFlags(id, func(sw *pb.Sweep) { sw.Cancelled = false }); err != nil {
		return err
	}
	now := timestamppb.New(c.cfg.Clock.Now())
	var back []*pb.Trial
	err := c.store.UpdateTrials(id, func(t *pb.Trial) bool {
		if t.State != pb.TrialState_TRIAL_STATE_CANCELLED {
			return false
		}
		t.State, t.UpdateTime = pb.TrialState_TRIAL_STATE_PENDING, now
		back = append(back, proto.Clone(t).(*pb.Trial))
		return true
	})
	if err != nil {
		return err
	}
	queued := make([]*pendingTrial, len(back))
	for i, t := range back {
		feat, _ := c.features(t)
		queued[i] = c.pending(t, feat)
	}
	c.mu.Lock()
	if st := c.sweeps[id]; st != nil {
		// The trials submitted while the sweep was cancelled wait in the
		// queue already; the cancelled ones join them.
		st.pushAll(queued)
		st.counts[pb.TrialState_TRIAL_STATE_CANCELLED] -= int32(len(back))
		st.counts[pb.TrialState_TRIAL_STATE_PENDING] += int32(len(back))
		c.wakeLocked()
	}
	c.mu.Unlock()
	c.changed(id)
	c.log.Info("sweep reopened", "sweep", id, "trials", len(back))
	return nil
}

// setPaused pauses or resumes a sweep and returns it with its counts.
func (c *Core) setPaused(id string, paused bool) (*pb.Sweep, error) {
	if err := c.setSweepFlags(id, func(sw *pb.Sweep) { sw.Paused = paused }); err != nil {
		return nil, err
	}
	sw, err := c.Sweep(id)
	if err != nil {
		return nil, err
	}
	c.log.Info("sweep paused or resumed", "sweep", id, "paused", paused)
	return sw, nil
}

// Cancel marks the sweep cancelled, then cancels its pending, failed and
// running trials in one transaction. Workers holding a lease are told at
// once through Config.Revoked, and otherwise learn it at their next
// heartbeat (ErrCancelled); they stop the trial. Results recorded already
// are kept.
func (c *Core) Cancel(id string) (*pb.Sweep, error) {
	if err := c.setSweepFlags(id, func(sw *pb.Sweep) { sw.Cancelled = true }); err != nil {
		return nil, err
	}
	now := timestamppb.New(c.cfg.Clock.Now())
	var moved [numStates]int32
	err := c.store.UpdateTrials(id, func(t *pb.Trial) bool {
		switch t.State {
		case pb.TrialState_TRIAL_STATE_PENDING, pb.TrialState_TRIAL_STATE_FAILED, pb.TrialState_TRIAL_STATE_RUNNING:
			moved[t.State]++
			endAttempt(t, "cancelled", "", now.AsTime())
			t.State = pb.TrialState_TRIAL_STATE_CANCELLED
			t.LeaseToken, t.LeaseExpireTime, t.RetryTime = "", nil, nil
			t.UpdateTime = now
			return true
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	revoked := map[string][]*pb.RevokedLease{}
	c.mu.Lock()
	if st := c.sweeps[id]; st != nil {
		st.queue = nil
		for i, n := range moved {
			st.counts[i] -= n
			st.counts[pb.TrialState_TRIAL_STATE_CANCELLED] += n
		}
		for k, l := range c.leases {
			if k.Sweep == id {
				delete(c.leases, k)
				st.running--
				revoked[l.worker] = append(revoked[l.worker], &pb.RevokedLease{
					SweepId: k.Sweep, TrialId: k.Trial, Token: l.token, Reason: wire.CancelledReason})
			}
		}
		for k := range c.retries {
			if k.Sweep == id {
				delete(c.retries, k)
			}
		}
	}
	c.metrics.setLeases(len(c.leases))
	c.mu.Unlock()
	if c.cfg.Revoked != nil {
		for w, ls := range revoked {
			c.cfg.Revoked(w, ls)
		}
	}
	c.changed(id)
	sw, err := c.Sweep(id)
	if err != nil {
		return nil, err
	}
	c.log.Info("sweep cancelled", "sweep", id, "pending", moved[pb.TrialState_TRIAL_STATE_PENDING],
		"running", moved[pb.TrialState_TRIAL_STATE_RUNNING])
	return sw, nil
}

// Workers returns the registered workers, by ID, with the leases each holds.
func (c *Core) Workers() []*pb.Worker {
	c.mu.Lock()
	defer c.mu.Unlock()
	running := map[string]int32{}
	for _, l := range c.leases {
		running[l.worker]++
	}
	out := make([]*pb.Worker, 0, len(c.workers))
	for id, w := range c.workers {
		out = append(out, &pb.Worker{
			Id: id, Name: w.pb.Name, Slots: w.pb.Slots, Labels: w.pb.Labels,
			LastSeenTime: timestamppb.New(w.lastSeen), Running: running[id], Gpus: w.pb.Gpus, Commands: w.pb.Commands,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
}

// Queued returns how many pending trials are queued with a lease template
// (their leases are spliced from memory) and how many without one (their
// leases read the store).
func (c *Core) Queued() (templated, stored int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sweeps {
		for _, p := range s.queue {
			if p.tmpl != nil {
				templated++
			} else {
				stored++
			}
		}
	}
	return templated, stored
}
