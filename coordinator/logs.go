package coordinator

import (
	"context"

	"github.com/flatsweep/flatsweep/coordinator/lease"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// Logs returns the stored output of a command trial's attempts.
func (s *sweepServer) Logs(_ context.Context, req *pb.LogsRequest) (*pb.LogsResponse, error) {
	logs, err := s.c.core.Logs(lease.Key{Sweep: req.SweepId, Trial: req.TrialId}, req.Attempt)
	if err != nil {
		return nil, statusOf(err)
	}
	return &pb.LogsResponse{Logs: logs}, nil
}
