package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/analysis"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

func newResultsCmd() *cobra.Command {
	var (
		conn    connFlags
		format  string
		groupBy []string
		filters []string
	)
	cmd := &cobra.Command{
		Use:   "results SWEEP",
		Short: "Print a sweep's results aggregated over seeds, or grouped by any axes",
		Long: `Without --group-by or --where, results prints one row per (N, B, ε) with the noise
scale g = ε(N/B − 1) and mean ± std over seeds. With them, the coordinator groups
the trials by the given axes (batch_size, lr, seed, n, momentum, weight_decay)
after filtering, and aggregates every metric (count, mean, std, min, max and the
95 % interval of the mean); --format jsonl writes one JSON object per group.`,
		Args: exactArgs(1, "one sweep name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(groupBy) > 0 || len(filters) > 0 || format == "jsonl" {
				return groupedResults(cmd, conn, args[0], groupBy, filters, format)
			}
			write, err := resultWriter(format)
			if err != nil {
				return err
			}
			cc, err := conn.dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			recs, err := fetchRecords(cmd.Context(), pb.NewSweepServiceClient(cc), args[0])
			if err != nil {
				return err
			}
			return write(cmd.OutOrStdout(), analysis.Summarize(recs))
		},
	}
	addConnFlags(cmd, &conn)
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, csv, json or jsonl")
	cmd.Flags().StringSliceVar(&groupBy, "group-by", nil, "axes to group by, e.g. batch_size,lr (default with --where: every axis but seed)")
	cmd.Flags().StringArrayVar(&filters, "where", nil, "keep trials whose AXIS is one of the values: AXIS=V1,V2 (repeatable)")
	return cmd
}

// resultWriter returns the writer for a --format value.
func resultWriter(format string) (func(io.Writer, []analysis.Row) error, error) {
	switch format {
	case "table":
		return writeTableWithLegend, nil
	case "csv":
		return analysis.WriteCSV, nil
	case "json":
		return analysis.WriteJSON, nil
	}
	return nil, usagef("--format: want table, csv or json, got %q", format)
}

// tableLegend explains the columns of the results table.
const tableLegend = `
g = ε(N/B − 1), the SGD noise scale; gap = train_acc − test_acc;
lambda_max = λ₁, the top Hessian eigenvalue of the training loss;
each cell is the mean ± sample std over the seeds of that (B, ε).
`

// writeTableWithLegend writes the aligned results table and its legend.
func writeTableWithLegend(w io.Writer, rows []analysis.Row) error {
	if err := analysis.WriteTable(w, rows); err != nil {
		return err
	}
	_, err := io.WriteString(w, tableLegend)
	return err
}
