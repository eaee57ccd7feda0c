package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

func newResultsCmd() *cobra.Command {
	var (
		conn    connFlags
		format  string
		groupBy []string
		filters filterFlags
		costs   bool
	)
	cmd := &cobra.Command{
		Use:   "results SWEEP",
		Short: "Print a sweep's results, grouped by the axes that vary and aggregated over seeds",
		Long: `results groups a sweep's trials and summarizes every metric of each group
(count, mean, std, min, max and the 95 % interval of the mean) over the trials
that succeeded without diverging, counting the others. By default the groups
are every combination of the grid axes that vary in the sweep except the seed,
so trials are averaged over seeds and over nothing else; --group-by names the
axes instead (` + strings.Join(spec.AxisNames(), ", ") + `, or the path of a
field axis, linked axis or random draw of the sweep, such as model.hidden).
` + filterHelp + `
The coordinator
computes the groups with the same engine (package results) that run's table,
analyze and report use. --format jsonl writes one JSON object per group.
Why failed trials failed follows the table (and is the "failures" list of
--format json; standard error for csv and jsonl).

--costs prints instead where the sweep's time went: per piece of work
(training, the curvature as a whole, then the Hessian's set-up, λ₁'s run and
each measure), summed over the trials that recorded it, the Hessian-vector
products, gradients and loss evaluations, the seconds, the seconds per trial
and the share of the trials' time (--format json: the rows as JSON):

  flatsweep results keskar-f1 --costs`,
		Args: exactArgs(1, "one sweep name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			write, err := results.Writer(format)
			if err != nil {
				return usagef("--format: %v", err)
			}
			req := &pb.AggregateResultsRequest{SweepId: args[0], GroupBy: groupBy}
			fs, err := filters.parse()
			if err != nil {
				return err
			}
			for _, f := range fs {
				if f.Exclude {
					req.Exclude = append(req.Exclude, f.ToProto())
				} else {
					req.Filters = append(req.Filters, f.ToProto())
				}
			}
			for _, a := range groupBy {
				if _, err := results.AxisPath(a); err != nil {
					return usagef("--group-by: %v", err)
				}
			}
			cc, err := conn.dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			if costs && (len(groupBy) > 0 || filters.set()) {
				return usagef("--costs: sums over every trial of the sweep; it takes no --group-by, --where or --exclude")
			}
			if costs {
				return printSweepCosts(cmd, pb.NewSweepServiceClient(cc), args[0], format)
			}
			g, err := aggregate(cmd.Context(), pb.NewSweepServiceClient(cc), req)
			if err != nil {
				return err
			}
			if err := write(cmd.OutOrStdout(), g); err != nil {
				return err
			}
			if format != "table" && format != "json" { // their documents carry the reasons
				return results.WriteFailures(cmd.ErrOrStderr(), g.Failures, 0)
			}
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, csv, json or jsonl")
	cmd.Flags().StringSliceVar(&groupBy, "group-by", nil, "axes to group by, e.g. batch_size,lr (default: every axis that varies, but seed)")
	addFilterFlags(cmd, &filters)
	cmd.Flags().BoolVar(&costs, "costs", false, "print where the sweep's time went: products, evaluations and seconds per piece of work")
	return cmd
}

// printSweepCosts writes the cost table of a sweep's results
// (results.CostTable) as a table or, with --format json, as JSON.
func printSweepCosts(cmd *cobra.Command, c pb.SweepServiceClient, sweep, format string) error {
	if format != "table" && format != "json" {
		return usagef("--format %s: --costs writes table or json", format)
	}
	recs, err := fetchRecords(cmd.Context(), c, sweep)
	if err != nil {
		return err
	}
	rows := results.CostTable(results.CostResults(recs))
	if format == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	return results.WriteCosts(cmd.OutOrStdout(), rows)
}

// aggregate asks the coordinator for a sweep's groups.
func aggregate(ctx context.Context, c pb.SweepServiceClient, req *pb.AggregateResultsRequest) (results.Groups, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	resp, err := c.AggregateResults(ctx, req)
	if err != nil {
		return results.Groups{}, fmt.Errorf("aggregate results of %s: %w", req.SweepId, err)
	}
	return results.GroupsFromProto(resp), nil
}

// groupsWriter returns the writer of a --format of run.
func groupsWriter(format string) (func(io.Writer, results.Groups) error, error) {
	w, err := results.Writer(format)
	if err != nil {
		return nil, usagef("--format: %v", err)
	}
	return w, nil
}
