package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/analysis"
)

func newExportCmd() *cobra.Command {
	var (
		src         sourceFlags
		filter      filterFlags
		format, out string
	)
	cmd := &cobra.Command{
		Use:   "export SWEEP --out FILE",
		Short: "Export every trial of a sweep, one row per trial, as CSV or Parquet",
		Long: `export writes every trial of a sweep as one row, with one column per
identifier (trial_id, state, status, diverged, error: why its last attempt
failed, input_error: whether retrying cannot mend it), axis (seed, batch_size, lr, n, momentum),
the noise scale g, a few settings and every metric, including every flatness
measure key present, for pandas (pd.read_csv / pd.read_parquet), R (read.csv,
arrow::read_parquet) or any other tool. A missing value (no result yet, no
curvature for a diverged trial, a measure not recorded) is an empty CSV cell or
a Parquet null.

--format is csv or parquet (default: from the --out extension, .csv or
.parquet; another extension needs --format); --out - writes CSV to standard
output. Sources as for analyze:
--coordinator, or --db PATH (a copy of the database).
` + filterHelp,
		Example: `  flatsweep export quickstart --db sweep.db --out trials.parquet
  flatsweep export quickstart --out - | head     # CSV from the coordinator`,
		Args: exactArgs(1, "one sweep name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out: want an output file (or - for standard output)")
			}
			if format == "" {
				switch ext := strings.ToLower(filepath.Ext(out)); {
				case out == "-", ext == ".csv":
					format = "csv"
				case ext == ".parquet":
					format = "parquet"
				default:
					return usagef("--out %s: the format does not follow from the name: give a .csv or .parquet file, or --format csv|parquet", out)
				}
			}
			var write func(analysis.TrialTable, io.Writer) error
			switch format {
			case "csv":
				write = analysis.TrialTable.WriteCSV
			case "parquet":
				write = analysis.TrialTable.WriteParquet
			default:
				return usagef("--format: want csv or parquet, got %q", format)
			}
			recs, err := src.records(cmd, args[0])
			if err != nil {
				return err
			}
			if recs, err = filter.apply(recs); err != nil {
				return err
			}
			t := analysis.TrialTableFromRecords(recs)
			if out == "-" {
				return write(t, cmd.OutOrStdout())
			}
			if err := writeFileAtomic(out, func(w io.Writer) error { return write(t, w) }); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d trials × %d columns to %s\n", len(t.Rows), len(t.Columns), out)
			return nil
		},
	}
	addSourceFlags(cmd, &src)
	addFilterFlags(cmd, &filter)
	cmd.Flags().StringVar(&format, "format", "", "csv or parquet (default: from the --out extension, .csv or .parquet)")
	cmd.Flags().StringVar(&out, "out", "", "output file, or - for standard output")
	return cmd
}

// writeFileAtomic writes path through a temporary file in the same directory
// renamed into place, so a failed export never leaves a partial file.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return usageError{fmt.Errorf("--out: %w", err)}
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
