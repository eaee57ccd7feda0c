package coordinator

import (
	"bytes"
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/analysis"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// AnalyzeSweep reads a sweep's trials from the store and returns the
// analysis package's JSON document for them — the same bytes `flatsweep
// analyze --format json` prints from a copy of the database.
func (s *sweepServer) AnalyzeSweep(_ context.Context, req *pb.AnalyzeSweepRequest) (*pb.AnalyzeSweepResponse, error) {
	recs, err := s.c.store.Records(req.SweepId)
	if err != nil {
		return nil, statusOf(err)
	}
	var buf bytes.Buffer
	if err := analysis.WriteAnalysisJSON(&buf, analysis.Analyze(req.SweepId, analysis.PointsFromRecords(recs))); err != nil {
		return nil, status.Errorf(codes.Internal, "analysis: %v", err)
	}
	return &pb.AnalyzeSweepResponse{AnalysisJson: buf.String()}, nil
}
