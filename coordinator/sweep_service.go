package coordinator

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flatsweep/flatsweep/coordinator/lease"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// Page sizes of QueryResults. A page also ends before its trials pass
// MaxPageBytes of encoded size (and holds at least one trial), so that a
// reply stays under the clients' 4 MiB message limit whatever the page size.
const (
	DefaultPageSize = 1000
	MaxPageSize     = 10000
	MaxPageBytes    = 2 << 20
)

// sweepServer implements pb.SweepServiceServer over the lease core and the
// store (for queries).
type sweepServer struct {
	pb.UnimplementedSweepServiceServer
	c *Coordinator
}

func (s *sweepServer) SubmitSweep(_ context.Context, req *pb.SubmitSweepRequest) (*pb.SubmitSweepResponse, error) {
	source := req.Source
	if source == "" {
		source = "<request>"
	}
	if req.SpecJson == "" {
		return nil, status.Error(codes.InvalidArgument, "spec_json: required: the sweep as JSON, parsed and resolved by the client (flatsweep submit does it; the coordinator does not read YAML)")
	}
	sp, err := spec.DecodeSweep([]byte(req.SpecJson))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s: %v", source, err)
	}
	out, err := s.c.core.Submit(sp, req.SpecYaml, req.Priority)
	if err != nil {
		if st := statusOf(err); status.Code(st) == codes.InvalidArgument {
			return nil, status.Errorf(codes.InvalidArgument, "%s: %v", source, err)
		}
		return nil, statusOf(err)
	}
	return &pb.SubmitSweepResponse{Sweep: out.Sweep, Created: out.Created, TrialsAdded: int32(out.Added)}, nil
}

func (s *sweepServer) GetSweep(_ context.Context, req *pb.GetSweepRequest) (*pb.GetSweepResponse, error) {
	sw, err := s.c.core.Sweep(req.SweepId)
	if err == nil {
		err = s.c.withFailures(sw)
	}
	if err != nil {
		return nil, statusOf(err)
	}
	return &pb.GetSweepResponse{Sweep: sw}, nil
}

func (s *sweepServer) ListSweeps(context.Context, *pb.ListSweepsRequest) (*pb.ListSweepsResponse, error) {
	sws, err := s.c.core.Sweeps()
	if err != nil {
		return nil, statusOf(err)
	}
	for _, sw := range sws {
		if err := s.c.withFailures(sw); err != nil {
			return nil, statusOf(err)
		}
	}
	return &pb.ListSweepsResponse{Sweeps: sws}, nil
}

func (s *sweepServer) PauseSweep(_ context.Context, req *pb.PauseSweepRequest) (*pb.PauseSweepResponse, error) {
	sw, err := s.c.core.Pause(req.SweepId)
	if err != nil {
		return nil, statusOf(err)
	}
	return &pb.PauseSweepResponse{Sweep: sw}, nil
}

func (s *sweepServer) ResumeSweep(_ context.Context, req *pb.ResumeSweepRequest) (*pb.ResumeSweepResponse, error) {
	sw, err := s.c.core.Resume(req.SweepId)
	if err != nil {
		return nil, statusOf(err)
	}
	return &pb.ResumeSweepResponse{Sweep: sw}, nil
}

func (s *sweepServer) CancelSweep(_ context.Context, req *pb.CancelSweepRequest) (*pb.CancelSweepResponse, error) {
	sw, err := s.c.core.Cancel(req.SweepId)
	if err != nil {
		return nil, statusOf(err)
	}
	return &pb.CancelSweepResponse{Sweep: sw}, nil
}

// watchInterval is how often WatchSweep looks for changes.
const watchInterval = 200 * time.Millisecond

// watchRefresh is how often WatchSweep sends a snapshot when nothing
// changed, so that the rate (over the last minute) and the time left stay
// current while no trial finishes.
const watchRefresh = time.Second

// WatchSweep streams snapshots of a sweep's progress whenever its counts or
// settings change, at least every watchRefresh, and a last one when it has
// finished.
func (s *sweepServer) WatchSweep(req *pb.WatchSweepRequest, stream grpc.ServerStreamingServer[pb.WatchSweepResponse]) error {
	core := s.c.core
	rec, err := s.c.store.GetSweep(req.SweepId)
	if err != nil {
		return statusOf(err)
	}
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	last, sent := "", time.Time{}
	for {
		sw := proto.Clone(rec).(*pb.Sweep)
		core.Fill(sw)
		resp := &pb.WatchSweepResponse{Sweep: sw}
		rate, left, done, _ := core.Progress(req.SweepId)
		resp.TrialsPerSecond = rate
		if left > 0 {
			resp.Remaining = durationpb.New(left)
		}
		key := fmt.Sprint(sw.StateCounts, sw.Paused, sw.Cancelled)
		if key != last || time.Since(sent) >= watchRefresh {
			if err := stream.Send(resp); err != nil {
				return err
			}
			last, sent = key, time.Now()
		}
		if done {
			return nil
		}
		select {
		case <-stream.Context().Done():
			return status.FromContextError(stream.Context().Err()).Err()
		case <-core.Stopped():
			return statusOf(lease.ErrStopped)
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
	bytes := 0
	err := s.c.store.Trials(req.SweepId, req.PageToken, func(t *pb.Trial) bool {
		if req.State != pb.TrialState_TRIAL_STATE_UNSPECIFIED && t.State != req.State {
			return true
		}
		n := proto.Size(t)
		if len(resp.Trials) == size || (len(resp.Trials) > 0 && bytes+n > MaxPageBytes) {
			more = true
			return false
		}
		bytes += n
		t.LeaseToken = "" // a lease token goes to its worker only
		resp.Trials = append(resp.Trials, t)
		last = t.Id
		return true
	})
	if err != nil {
		return nil, statusOf(err)
	}
	if more {
		resp.NextPageToken = last
	}
	return resp, nil
}

func (s *sweepServer) ListWorkers(context.Context, *pb.ListWorkersRequest) (*pb.ListWorkersResponse, error) {
	return &pb.ListWorkersResponse{Workers: s.c.core.Workers()}, nil
}
