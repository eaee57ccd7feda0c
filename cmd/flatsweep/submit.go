package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

func newSubmitCmd() *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "submit SWEEP.yaml",
		Short: "Submit a sweep to a coordinator",
		Args:  exactArgs(1, "one sweep file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, data, err := loadSweep(args[0])
			if err != nil {
				return err
			}
			if err := checkData(s, args[0]); err != nil {
				return err
			}
			req, err := submitRequest(s, data, args[0], 0)
			if err != nil {
				return err
			}
			cc, err := conn.dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), rpcTimeout)
			defer cancel()
			resp, err := pb.NewSweepServiceClient(cc).SubmitSweep(ctx, req)
			if err != nil {
				return fmt.Errorf("submit %s: %w", args[0], err)
			}
			verb := "updated"
			if resp.Created {
				verb = "created"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sweep %s %s: %d trials, %d added\n",
				resp.Sweep.Id, verb, resp.Sweep.TrialCount, resp.TrialsAdded)
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	return cmd
}
