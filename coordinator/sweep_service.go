package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/sweeps"
)

// Page sizes of QueryResults.
const (
	DefaultPageSize = 1000
	MaxPageSize     = 10000
)

// sweepServer implements pb.SweepServiceServer.
type sweepServer struct {
	pb.UnimplementedSweepServiceServer
	c *Coordinator
}

func storeErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return status.Error(codes.NotFound, err.Error())
	}
	return status.Errorf(codes.Internal, "%v", err)
}

func (s *sweepServer) SubmitSweep(_ context.Context, req *pb.SubmitSweepRequest) (*pb.SubmitSweepResponse, error) {
	source := req.Source
	if source == "" {
		source = "<request>"
	}
	spec, err := sweeps.Parse([]byte(req.SpecYaml), source)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	canon, err := spec.Canonical()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "canonical sweep: %v", err)
	}
	c := s.c
	now := timestamppb.New(c.cfg.Clock.Now())
	trials, feats, bases, err := buildTrials(spec, now)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	sw := &pb.Sweep{Id: spec.Name, SpecYaml: req.SpecYaml, SpecJson: string(canon), CreateTime: now, Priority: req.Priority}
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
		st := c.sweeps[spec.Name]
		if st == nil {
			st = newSweepState(spec.Name)
			c.sweeps[spec.Name] = st
		}
		if err == nil {
			st.priority = req.Priority
		}
		st.pushAll(queued)
		st.counts[pb.TrialState_TRIAL_STATE_PENDING] += int32(len(added))
		st.total += int32(len(added))
		if len(added) > 0 {
			c.forgetRowsLocked(spec.Name)
			c.wakeLocked()
		}
		c.mu.Unlock()
	}
	c.submitMu.Unlock()
	if err != nil {
		return nil, storeErr(err)
	}
	out, err := c.sweepWithCounts(spec.Name)
	if err != nil {
		return nil, err
	}
	c.log.Info("sweep submitted", "sweep", spec.Name, "created", created, "trials", len(trials), "added", len(added))
	return &pb.SubmitSweepResponse{Sweep: out, Created: created, TrialsAdded: int32(len(added))}, nil
}

// buildTrials builds the stored form of a submission's trials, streaming the
// grid: one base spec (every trial's spec with its axis values zeroed) and
// each trial's axis values, plus each trial's cost features by grid index.
// It checks on a sample of trials that the specs rebuilt from base and axes
// hash to the trial IDs; if one does not (a grid axis the stored form does
// not know), it stores every trial's full spec instead.
func buildTrials(spec *sweeps.Spec, now *timestamppb.Timestamp) ([]*pb.Trial, [][2]float64, map[string][]byte, error) {
	total := spec.Grid.Len()
	trials := make([]*pb.Trial, 0, total)
	feats := make([][2]float64, 0, total)
	structs := make([]pb.Trial, total)          // one allocation for all trials
	axes := make([]float64, total*wire.NumAxes) // and one for all axis values
	sample := map[int]bool{}
	for _, i := range sampleIndexes(total) {
		sample[i] = true
	}
	var (
		base     compute.TrialSpec
		baseJSON []byte
		baseID   string
		compact  = true
		err      error
	)
	spec.ForEachTrial(func(t *sweeps.Trial) {
		if err != nil {
			return
		}
		if t.Index == 0 {
			base = wire.Base(t.Spec)
			if baseJSON, err = wire.Canonical(base); err != nil {
				return
			}
			baseID = wire.BaseID(baseJSON)
		}
		a := wire.SpecAxes(t.Spec)
		if compact && sample[t.Index] {
			js, jerr := wire.JoinSpec(base, a[:])
			compact = jerr == nil && sweeps.TrialIDOf([]byte(js)) == t.ID
		}
		pt := &structs[t.Index]
		pt.SweepId, pt.Id, pt.State, pt.Index, pt.UpdateTime = spec.Name, t.ID, pb.TrialState_TRIAL_STATE_PENDING, int32(t.Index), now
		pt.BaseId = baseID
		pt.Axes = axes[t.Index*wire.NumAxes : (t.Index+1)*wire.NumAxes : (t.Index+1)*wire.NumAxes]
		copy(pt.Axes, a[:])
		trials = append(trials, pt)
		feats = append(feats, costFeatures(t.Spec))
	})
	if err != nil {
		return nil, nil, nil, err
	}
	if compact {
		return trials, feats, map[string][]byte{baseID: baseJSON}, nil
	}
	// Fall back to full specs.
	spec.ForEachTrial(func(t *sweeps.Trial) {
		if err != nil {
			return
		}
		var js []byte
		js, err = sweeps.CanonicalTrial(t.Spec)
		pt := trials[t.Index]
		pt.BaseId, pt.Axes, pt.SpecJson = "", nil, string(js)
	})
	return trials, feats, nil, err
}

// sampleIndexes returns up to 17 indexes spread over 0…n−1 (first and last
// included).
func sampleIndexes(n int) []int {
	if n <= 17 {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, 17)
	for i := range out {
		out[i] = i * (n - 1) / 16
	}
	return out
}

// sweepWithCounts returns a stored sweep with its live trial counts and settings.
func (c *Coordinator) sweepWithCounts(id string) (*pb.Sweep, error) {
	sw, err := c.store.GetSweep(id)
	if err != nil {
		return nil, storeErr(err)
	}
	c.fillLocked(sw)
	return sw, nil
}

// fillLocked copies the live counts and settings into a sweep message.
func (c *Coordinator) fillLocked(sw *pb.Sweep) {
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

func (s *sweepServer) GetSweep(_ context.Context, req *pb.GetSweepRequest) (*pb.GetSweepResponse, error) {
	sw, err := s.c.sweepWithCounts(req.SweepId)
	if err != nil {
		return nil, err
	}
	return &pb.GetSweepResponse{Sweep: sw}, nil
}

func (s *sweepServer) ListSweeps(context.Context, *pb.ListSweepsRequest) (*pb.ListSweepsResponse, error) {
	sws, err := s.c.store.ListSweeps()
	if err != nil {
		return nil, storeErr(err)
	}
	for _, sw := range sws {
		s.c.fillLocked(sw)
	}
	return &pb.ListSweepsResponse{Sweeps: sws}, nil
}

// setSweepFlags persists a change to a sweep's paused/cancelled flags and
// applies it to the scheduler.
func (c *Coordinator) setSweepFlags(id string, fn func(*pb.Sweep)) error {
	sw, err := c.store.UpdateSweep(id, func(sw *pb.Sweep) error { fn(sw); return nil })
	if err != nil {
		return storeErr(err)
	}
	c.mu.Lock()
	if st := c.sweeps[id]; st != nil {
		st.paused, st.cancelled = sw.Paused, sw.Cancelled
		c.wakeLocked()
	}
	c.mu.Unlock()
	return nil
}

// setPaused pauses or resumes a sweep and returns it with its counts.
func (c *Coordinator) setPaused(id string, paused bool) (*pb.Sweep, error) {
	if err := c.setSweepFlags(id, func(sw *pb.Sweep) { sw.Paused = paused }); err != nil {
		return nil, err
	}
	sw, err := c.sweepWithCounts(id)
	if err != nil {
		return nil, err
	}
	c.log.Info("sweep paused or resumed", "sweep", id, "paused", paused)
	return sw, nil
}

func (s *sweepServer) PauseSweep(_ context.Context, req *pb.PauseSweepRequest) (*pb.PauseSweepResponse, error) {
	sw, err := s.c.setPaused(req.SweepId, true)
	if err != nil {
		return nil, err
	}
	return &pb.PauseSweepResponse{Sweep: sw}, nil
}

func (s *sweepServer) ResumeSweep(_ context.Context, req *pb.ResumeSweepRequest) (*pb.ResumeSweepResponse, error) {
	sw, err := s.c.setPaused(req.SweepId, false)
	if err != nil {
		return nil, err
	}
	return &pb.ResumeSweepResponse{Sweep: sw}, nil
}

// CancelSweep marks the sweep cancelled, then cancels its pending, failed and
// running trials in one transaction; workers holding a lease learn it at
// their next heartbeat and stop the trial.
func (s *sweepServer) CancelSweep(_ context.Context, req *pb.CancelSweepRequest) (*pb.CancelSweepResponse, error) {
	c := s.c
	if err := c.setSweepFlags(req.SweepId, func(sw *pb.Sweep) { sw.Cancelled = true }); err != nil {
		return nil, err
	}
	now := timestamppb.New(c.cfg.Clock.Now())
	var moved [numStates]int32
	err := c.store.UpdateTrials(req.SweepId, func(t *pb.Trial) bool {
		switch t.State {
		case pb.TrialState_TRIAL_STATE_PENDING, pb.TrialState_TRIAL_STATE_FAILED, pb.TrialState_TRIAL_STATE_RUNNING:
			moved[t.State]++
			t.State = pb.TrialState_TRIAL_STATE_CANCELLED
			t.LeaseToken, t.LeaseExpireTime, t.RetryTime = "", nil, nil
			t.UpdateTime = now
			return true
		}
		return false
	})
	if err != nil {
		return nil, storeErr(err)
	}
	c.mu.Lock()
	if st := c.sweeps[req.SweepId]; st != nil {
		st.queue = nil
		for i, n := range moved {
			st.counts[i] -= n
			st.counts[pb.TrialState_TRIAL_STATE_CANCELLED] += n
		}
		for k := range c.leases {
			if k.sweep == req.SweepId {
				delete(c.leases, k)
				st.running--
			}
		}
		for k := range c.retries {
			if k.sweep == req.SweepId {
				delete(c.retries, k)
			}
		}
	}
	c.metrics.setLeases(len(c.leases))
	c.forgetRowsLocked(req.SweepId)
	c.mu.Unlock()
	sw, err := c.sweepWithCounts(req.SweepId)
	if err != nil {
		return nil, err
	}
	c.log.Info("sweep cancelled", "sweep", req.SweepId, "pending", moved[pb.TrialState_TRIAL_STATE_PENDING],
		"running", moved[pb.TrialState_TRIAL_STATE_RUNNING])
	return &pb.CancelSweepResponse{Sweep: sw}, nil
}

// watchInterval is how often WatchSweep looks for changes.
const watchInterval = 200 * time.Millisecond

// WatchSweep streams snapshots of a sweep's progress whenever its counts
// change, and a last one when it has finished.
func (s *sweepServer) WatchSweep(req *pb.WatchSweepRequest, stream grpc.ServerStreamingServer[pb.WatchSweepResponse]) error {
	c := s.c
	rec, err := c.store.GetSweep(req.SweepId)
	if err != nil {
		return storeErr(err)
	}
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	last := ""
	for {
		sw := proto.Clone(rec).(*pb.Sweep)
		c.fillLocked(sw)
		resp := &pb.WatchSweepResponse{Sweep: sw}
		c.mu.Lock()
		st := c.sweeps[req.SweepId]
		done := st == nil || st.done()
		if st != nil {
			now := c.cfg.Clock.Now()
			resp.TrialsPerSecond = st.rate(now)
			left := st.total - st.counts[pb.TrialState_TRIAL_STATE_SUCCEEDED] -
				st.counts[pb.TrialState_TRIAL_STATE_DISCARDED] - st.counts[pb.TrialState_TRIAL_STATE_CANCELLED]
			if resp.TrialsPerSecond > 0 {
				resp.Remaining = durationpb.New(time.Duration(float64(left) / resp.TrialsPerSecond * float64(time.Second)))
			}
		}
		c.mu.Unlock()
		key := fmt.Sprint(sw.StateCounts, sw.Paused, sw.Cancelled)
		if key != last {
			if err := stream.Send(resp); err != nil {
				return err
			}
			last = key
		}
		if done {
			return nil
		}
		select {
		case <-stream.Context().Done():
			return status.FromContextError(stream.Context().Err()).Err()
		case <-c.stop:
			return status.Error(codes.Unavailable, "coordinator is shutting down")
		case <-tick.C:
		}
	}
}

func (s *sweepServer) QueryResults(_ context.Context, req *pb.QueryResultsRequest) (*pb.QueryResultsResponse, error) {
	size := int(req.PageSize)
	switch {
	case size < 0:
		return nil, status.Errorf(codes.InvalidArgument, "page_size: must not be negative, got %d", size)
	case size == 0:
		size = DefaultPageSize
	case size > MaxPageSize:
		size = MaxPageSize
	}
	resp := &pb.QueryResultsResponse{}
	var last string
	more := false
	err := s.c.store.Trials(req.SweepId, req.PageToken, func(t *pb.Trial) bool {
		if req.State != pb.TrialState_TRIAL_STATE_UNSPECIFIED && t.State != req.State {
			return true
		}
		if len(resp.Trials) == size {
			more = true
			return false
		}
		resp.Trials = append(resp.Trials, t)
		last = t.Id
		return true
	})
	if err != nil {
		return nil, storeErr(err)
	}
	if more {
		resp.NextPageToken = last
	}
	return resp, nil
}

func (s *sweepServer) ListWorkers(context.Context, *pb.ListWorkersRequest) (*pb.ListWorkersResponse, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	running := map[string]int32{}
	for _, l := range c.leases {
		running[l.worker]++
	}
	resp := &pb.ListWorkersResponse{}
	for id, w := range c.workers {
		resp.Workers = append(resp.Workers, &pb.Worker{
			Id: id, Name: w.pb.Name, Slots: w.pb.Slots, Labels: w.pb.Labels,
			LastSeenTime: timestamppb.New(w.lastSeen), Running: running[id],
		})
	}
	sort.Slice(resp.Workers, func(i, j int) bool { return resp.Workers[i].Id < resp.Workers[j].Id })
	return resp, nil
}
