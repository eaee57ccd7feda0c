package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/compute/blas"
	"github.com/flatsweep/flatsweep/coordinator/store"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the source revision, the BLAS backend and the database schema",
		Long: `version prints what decides whether two flatsweep processes give bit-identical
trials: the module version and source revision they were built from, the Go
version, the BLAS backend (gonum or openblas) and OpenBLAS's thread count, and
the database schema version the binary writes.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			version, revision, modified := "(devel)", "unknown", ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				if bi.Main.Version != "" {
					version = bi.Main.Version
				}
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision":
						revision = s.Value
					case "vcs.modified":
						if s.Value == "true" {
							modified = " (with uncommitted changes)"
						}
					}
				}
			}
			fmt.Fprintf(w, "flatsweep %s\n", version)
			fmt.Fprintf(w, "revision  %s%s\n", revision, modified)
			fmt.Fprintf(w, "go        %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(w, "blas      %s (threads %d)\n", blas.Name, blas.Threads())
			fmt.Fprintf(w, "schema    %d\n", store.SchemaVersion)
			return nil
		},
	}
}
