package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/sweeps"
)

func newSubmitCmd() *cobra.Command {
	var (
		conn     connFlags
		priority int32
		over     sweeps.Overrides
	)
	cmd := &cobra.Command{
		Use:   "submit SWEEP.yaml",
		Short: "Submit a sweep to a coordinator",
		Long: `Submit a sweep to a coordinator. Submitting a sweep that exists adds only
the trials it does not have yet (more seeds, a wider grid) and sets its
priority again.`,
		Example: `  flatsweep submit sweeps/quickstart.yaml --coordinator coord-host:7070
  flatsweep submit big.yaml --priority 10     # runs before sweeps of lower priority`,
		Args: exactArgs(1, "one sweep file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, data, err := loadSweep(args[0], over)
			if err != nil {
				return err
			}
			if err := checkData(s, args[0]); err != nil {
				return err
			}
			req, err := submitRequest(s, data, args[0], priority)
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
			if note := sweeps.PartialBatchNote(sweeps.Expand(s)); note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), note)
			}
			switch {
			case resp.Sweep.Cancelled:
				fmt.Fprintf(cmd.OutOrStdout(), "the sweep is cancelled: its trials wait until `flatsweep resume %s` reopens it\n", resp.Sweep.Id)
			case resp.Sweep.Paused:
				fmt.Fprintf(cmd.OutOrStdout(), "the sweep is paused: its trials wait until `flatsweep resume %s`\n", resp.Sweep.Id)
			}
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addOverrideFlags(cmd, &over)
	cmd.Flags().Int32Var(&priority, "priority", 0, "scheduling priority: sweeps of higher priority run first, equal ones share the workers (resubmitting sets it again)")
	return cmd
}
