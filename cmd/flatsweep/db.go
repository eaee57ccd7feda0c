package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/coordinator/store"
)

func newDBCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Check a database file for damage, or salvage its intact records into a new file",
		Long: `db check reads every page and record of a coordinator's database file and
reports the damage it finds; db salvage copies every intact record into a new
file. Both read the file page by page without mapping it, so a truncated or
garbled file gives a report, not a crash.

A coordinator (or export --db) refuses a file shorter than its pages reach, and
skips single records that do not decode, logging each: run db check to list
them all, and db salvage to get a clean file.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown subcommand %q: want check or salvage", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newDBCheckCmd(), newDBSalvageCmd())
	return cmd
}

func newDBCheckCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "check --db FILE",
		Short: "Report the damage in a database file (exit status 1 when damaged)",
		Long: `check reads the database file without writing to it and prints, for each
bucket, the records that read whole and the bad ones; then the damage that
is not one record (a file shorter than its pages reach, pages that cannot be
read) and each bad record (a sweep or trial that does not decode, a base
whose content does not match its ID, a trial whose spec does not rebuild).
When every page reads, bbolt's own consistency check runs too.

The exit status is 0 for a clean file and 1 for a damaged one. A running
coordinator locks its file: stop it, or check a copy.`,
		Args: exactArgs(0, "no arguments (give --db)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if db == "" {
				return usagef("--db: the database file to check is required")
			}
			rep, err := store.Check(db)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return usageError{fmt.Errorf("--db: %w", err)}
				}
				return err
			}
			if err := rep.WriteText(cmd.OutOrStdout(), false); err != nil {
				return err
			}
			if rep.Damaged() {
				return fmt.Errorf("%s: %w (see the report above)", db, store.ErrDamaged)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "bbolt database file to check")
	return cmd
}

func newDBSalvageCmd() *cobra.Command {
	var db, out string
	cmd := &cobra.Command{
		Use:   "salvage --db FILE --out NEW.db",
		Short: "Copy every intact record of a damaged database file into a new file",
		Long: `salvage copies every record of --db that reads whole into a new database
at --out, leaving out the bad ones (see db check), and prints what it kept and
what it lost. It reads a truncated file as far as it goes; where the pages of
the last transaction are lost, it takes the records of the transaction before,
which bbolt leaves whole.

A salvaged sweep counts the trials kept, so submitting its file again adds
the lost trials afresh; a sweep whose record is lost keeps its trials under a
placeholder record without a spec until its file is submitted again. --db is
only read; --out must not exist. Start the coordinator on --out.`,
		Args: exactArgs(0, "no arguments (give --db and --out)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case db == "":
				return usagef("--db: the damaged database file is required")
			case out == "":
				return usagef("--out: the new database file is required")
			}
			if _, err := os.Lstat(out); err == nil {
				return usagef("--out %s: the file exists; choose a new name", out)
			}
			if _, err := os.Stat(filepath.Dir(out)); err != nil {
				return usageError{fmt.Errorf("--out: %w", err)}
			}
			rep, err := store.Salvage(db, out)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return usageError{fmt.Errorf("--db: %w", err)}
				}
				return err
			}
			return rep.WriteText(cmd.OutOrStdout(), true)
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "damaged bbolt database file (read only)")
	cmd.Flags().StringVar(&out, "out", "", "new database file to write (must not exist)")
	return cmd
}
