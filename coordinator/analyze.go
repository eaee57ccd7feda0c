package coordinator

import (
	"bytes"
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/analysis"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// AnalyzeSweep reads a sweep's trials from the store and returns the
// analysis package's JSON document for them — the same bytes `flatsweep
// analyze --format json` prints from a copy of the database.
func (s *sweepServer) AnalyzeSweep(_ context.Context, req *pb.AnalyzeSweepRequest) (*pb.AnalyzeSweepResponse, error) {
	var recs []analysis.Record
	var convErr error
	err := s.c.store.Trials(req.SweepId, "", func(t *pb.Trial) bool {
		r, err := wire.Record(t)
		if err != nil {
			convErr = err
			return false
		}
		recs = append(recs, r)
		return true
	})
	if err == nil {
		err = convErr
	}
	if err != nil {
		return nil, storeErr(err)
	}
	var buf bytes.Buffer
	if err := analysis.WriteAnalysisJSON(&buf, analysis.Analyze(req.SweepId, analysis.PointsFromRecords(recs))); err != nil {
		return nil, status.Errorf(codes.Internal, "analysis: %v", err)
	}
	return &pb.AnalyzeSweepResponse{AnalysisJson: buf.String()}, nil
}
