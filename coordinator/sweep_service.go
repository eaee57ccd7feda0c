package coordinator

import (
	"context"
	"errors"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flatsweep/flatsweep/coordinator/store"
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
	expanded := spec.Expand()
	trials := make([]*pb.Trial, len(expanded))
	for i, t := range expanded {
		js, err := sweeps.CanonicalTrial(t.Spec)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "canonical trial: %v", err)
		}
		trials[i] = &pb.Trial{
			SweepId:    spec.Name,
			Id:         t.ID,
			SpecJson:   string(js),
			State:      pb.TrialState_TRIAL_STATE_PENDING,
			Index:      int32(t.Index),
			UpdateTime: now,
		}
	}
	sw := &pb.Sweep{Id: spec.Name, SpecYaml: req.SpecYaml, SpecJson: string(canon), CreateTime: now}
	c.mu.Lock()
	added, created, err := c.store.PutSweep(sw, trials)
	if err == nil {
		keys := make([]trialKey, len(added))
		for i, t := range added {
			keys[i] = trialKey{t.SweepId, t.Id}
		}
		c.enqueueLocked(keys...)
	}
	c.mu.Unlock()
	if err != nil {
		return nil, storeErr(err)
	}
	stored, err := c.store.GetSweep(spec.Name)
	if err != nil {
		return nil, storeErr(err)
	}
	c.log.Info("sweep submitted", "sweep", spec.Name, "created", created, "trials", len(trials), "added", len(added))
	return &pb.SubmitSweepResponse{Sweep: stored, Created: created, TrialsAdded: int32(len(added))}, nil
}

func (s *sweepServer) GetSweep(_ context.Context, req *pb.GetSweepRequest) (*pb.GetSweepResponse, error) {
	sw, err := s.c.store.GetSweep(req.SweepId)
	if err != nil {
		return nil, storeErr(err)
	}
	return &pb.GetSweepResponse{Sweep: sw}, nil
}

func (s *sweepServer) ListSweeps(context.Context, *pb.ListSweepsRequest) (*pb.ListSweepsResponse, error) {
	sws, err := s.c.store.ListSweeps()
	if err != nil {
		return nil, storeErr(err)
	}
	return &pb.ListSweepsResponse{Sweeps: sws}, nil
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
