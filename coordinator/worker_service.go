package coordinator

import (
	"context"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flatsweep/flatsweep/coordinator/lease"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// workerServer implements pb.WorkerServiceServer over the lease core. Each
// method translates one call; the session stream (session.go) dispatches to
// the same methods, so a worker's call means the same on either path.
type workerServer struct {
	pb.UnimplementedWorkerServiceServer
	c *Coordinator
}

// owned checks that a call about a worker comes from the credentials that
// registered it (see lease.Core.CheckOwner).
func (s *workerServer) owned(ctx context.Context, workerID string) error {
	return statusOf(s.c.core.CheckOwner(workerID, callerOf(ctx)))
}

func (s *workerServer) RegisterWorker(ctx context.Context, req *pb.RegisterWorkerRequest) (*pb.RegisterWorkerResponse, error) {
	id, err := s.c.core.RegisterWith(req.Name, req.Slots, req.Labels, lease.Capabilities{GPUs: req.Gpus, Commands: req.Commands}, callerOf(ctx))
	if err != nil {
		return nil, statusOf(err)
	}
	cfg := s.c.core.Config()
	return &pb.RegisterWorkerResponse{
		WorkerId:          id,
		LeaseTtl:          durationpb.New(cfg.LeaseTTL),
		HeartbeatInterval: durationpb.New(cfg.HeartbeatInterval),
	}, nil
}

func (s *workerServer) AcquireTrial(ctx context.Context, req *pb.AcquireTrialRequest) (*pb.AcquireTrialResponse, error) {
	if err := s.owned(ctx, req.WorkerId); err != nil {
		return nil, err
	}
	l, err := s.c.core.AcquireSlots(ctx, req.WorkerId, req.GetWait().AsDuration(), req.FreeSlots)
	if err != nil {
		return nil, statusOf(err)
	}
	return &pb.AcquireTrialResponse{Lease: l}, nil
}

func (s *workerServer) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	if err := s.owned(ctx, req.WorkerId); err != nil {
		return nil, err
	}
	expiry, err := s.c.core.Heartbeat(req.WorkerId, lease.Key{Sweep: req.SweepId, Trial: req.TrialId}, req.Token, req.NewMetrics)
	if err != nil {
		return nil, statusOf(err)
	}
	return &pb.HeartbeatResponse{ExpireTime: timestamppb.New(expiry)}, nil
}

func (s *workerServer) CompleteTrial(ctx context.Context, req *pb.CompleteTrialRequest) (*pb.CompleteTrialResponse, error) {
	if err := s.owned(ctx, req.WorkerId); err != nil {
		return nil, err
	}
	dup, err := s.c.core.CompleteWithLog(req.WorkerId, lease.Key{Sweep: req.SweepId, Trial: req.TrialId}, req.Token, req.Result, req.Log)
	if err != nil {
		return nil, statusOf(err)
	}
	return &pb.CompleteTrialResponse{Duplicate: dup}, nil
}

func (s *workerServer) FailTrial(ctx context.Context, req *pb.FailTrialRequest) (*pb.FailTrialResponse, error) {
	if err := s.owned(ctx, req.WorkerId); err != nil {
		return nil, err
	}
	st, err := s.c.core.FailWithLog(req.WorkerId, lease.Key{Sweep: req.SweepId, Trial: req.TrialId}, req.Token, req.Error, req.Permanent, req.Log)
	if err != nil {
		return nil, statusOf(err)
	}
	return &pb.FailTrialResponse{State: st}, nil
}

func (s *workerServer) ReleaseTrial(ctx context.Context, req *pb.ReleaseTrialRequest) (*pb.ReleaseTrialResponse, error) {
	if err := s.owned(ctx, req.WorkerId); err != nil {
		return nil, err
	}
	if err := s.c.core.Release(req.WorkerId, lease.Key{Sweep: req.SweepId, Trial: req.TrialId}, req.Token); err != nil {
		return nil, statusOf(err)
	}
	s.c.log.Info("trial handed back", "sweep", req.SweepId, "trial", req.TrialId, "worker", req.WorkerId)
	return &pb.ReleaseTrialResponse{}, nil
}

func (s *workerServer) LogAttempt(ctx context.Context, req *pb.LogAttemptRequest) (*pb.LogAttemptResponse, error) {
	if err := s.owned(ctx, req.WorkerId); err != nil {
		return nil, err
	}
	if err := s.c.core.LogAttempt(req.WorkerId, lease.Key{Sweep: req.SweepId, Trial: req.TrialId}, req.Log); err != nil {
		return nil, statusOf(err)
	}
	return &pb.LogAttemptResponse{}, nil
}
