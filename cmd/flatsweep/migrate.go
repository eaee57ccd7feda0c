package main

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/spec"
)

func newMigrateCmd() *cobra.Command {
	var db, root string
	cmd := &cobra.Command{
		Use:   "migrate --db FILE [--data-root DIR]",
		Short: "Give a database's trials their content identity (data sets and warm starts by digest)",
		Long: `migrate upgrades a database written before flatsweep identified files by their
content. A trial whose data set or warm start was named by its path gets the
SHA-256 digest of those files in its spec and the trial ID that goes with it,
keeping its state, attempts and result; resubmitting its sweep then finds it
instead of running it again, wherever the files have moved since. The old ID
is kept as an alias.

It reads the files: relative paths resolve against --data-root (default the
current directory, as they did for the workers). It assumes they are the
files the trials ran on. Trials whose files cannot be read keep their old
identity and are listed. The coordinator does the same when it starts, for
the files it can read; run migrate where the data is, with the coordinator
stopped (bbolt locks the file).`,
		Args: exactArgs(0, "no arguments (give --db)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if db == "" {
				return usagef("--db: the database file is required")
			}
			st, err := store.Open(db)
			if err != nil {
				return usageError{fmt.Errorf("--db: %w", err)}
			}
			defer st.Close()
			return migrateIdentities(st, root, cmd.OutOrStdout(), slog.Default())
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "bbolt database file (the coordinator must not be running)")
	cmd.Flags().StringVar(&root, "data-root", "", "directory relative data paths resolve against (default: the current directory)")
	return cmd
}

// migrateIdentities runs store.MigrateContentIdentity with the files read
// under root, and reports what it did on w (nil: only to the log).
func migrateIdentities(st *store.Store, root string, w io.Writer, log *slog.Logger) error {
	done, err := st.MigrateContentIdentity(func(t *spec.Trial) error { return resolveUnder(t, root) })
	for _, r := range done {
		log.Info("trials given their content identity", "sweep", r.Sweep, "trials", r.Trials, "merged", r.Merged)
		if w != nil {
			fmt.Fprintf(w, "sweep %s: %d trials given their content identity (%d merged with a resubmission)\n", r.Sweep, r.Trials, r.Merged)
		}
		if r.Unresolved > 0 {
			log.Warn("trials keep their path identity: their files cannot be read here; run flatsweep migrate where they are",
				"sweep", r.Sweep, "trials", r.Unresolved, "err", r.Err)
			if w != nil {
				fmt.Fprintf(w, "sweep %s: %d trials keep their path identity: %v\n", r.Sweep, r.Unresolved, r.Err)
			}
		}
	}
	if w != nil && len(done) == 0 && err == nil {
		fmt.Fprintln(w, "nothing to migrate: every trial is identified by content")
	}
	return err
}

// resolveUnder fills in the digests of the files t reads, resolving relative
// paths against root (the paths stored in t are left as they are).
func resolveUnder(t *spec.Trial, root string) error {
	if root == "" {
		return t.ResolveFiles()
	}
	at := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(root, p)
	}
	c := *t
	d := &c.Dataset
	d.Dir, d.TrainImages, d.TrainLabels, d.TestImages, d.TestLabels = at(d.Dir), at(d.TrainImages), at(d.TrainLabels), at(d.TestImages), at(d.TestLabels)
	d.TrainBatches, d.TestBatches = mapPaths(d.TrainBatches, at), mapPaths(d.TestBatches, at)
	c.WarmStart.Path = at(c.WarmStart.Path)
	if err := c.ResolveFiles(); err != nil {
		return err
	}
	t.Dataset.SHA256, t.WarmStart.SHA256 = c.Dataset.SHA256, c.WarmStart.SHA256
	return nil
}

func mapPaths(ps []string, f func(string) string) []string {
	if ps == nil {
		return nil
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = f(p)
	}
	return out
}
