package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flatsweep/flatsweep/analysis"
	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// DefaultCoordinator is the address clients use when --coordinator is not given.
const DefaultCoordinator = "127.0.0.1:7070"

// addCoordinatorFlag adds --coordinator to a client command.
func addCoordinatorFlag(cmd *cobra.Command, addr *string) {
	cmd.Flags().StringVar(addr, "coordinator", DefaultCoordinator, "coordinator address host:port")
}

// dial opens a client connection to a coordinator. Connections are made lazily:
// the first call fails with codes.Unavailable if nothing listens there.
func dial(addr string) (*grpc.ClientConn, error) {
	if addr == "" {
		return nil, usagef("--coordinator: want host:port, got an empty address")
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, usagef("--coordinator %q: %v", addr, err)
	}
	return conn, nil
}

// fetchRecords pages through all trials of a sweep and converts them for analysis.
func fetchRecords(ctx context.Context, c pb.SweepServiceClient, sweepID string) ([]analysis.Record, error) {
	var out []analysis.Record
	token := ""
	for {
		resp, err := c.QueryResults(ctx, &pb.QueryResultsRequest{SweepId: sweepID, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("query results of %s: %w", sweepID, err)
		}
		for _, t := range resp.Trials {
			spec, err := wire.DecodeSpec(t.SpecJson)
			if err != nil {
				return nil, fmt.Errorf("trial %s: %w", t.Id, err)
			}
			out = append(out, analysis.Record{
				TrialID: t.Id,
				Spec:    spec,
				State:   store.StateName(t.State),
				Result:  wire.ResultFromProto(t.Result),
			})
		}
		if resp.NextPageToken == "" {
			return out, nil
		}
		token = resp.NextPageToken
	}
}

// rpcTimeout bounds a single unary call from the CLI.
const rpcTimeout = 30 * time.Second
