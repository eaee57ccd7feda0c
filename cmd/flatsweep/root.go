package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/compute/blas"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// usageError marks bad input: a flag, an argument or a sweep file. It makes the
// process exit with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// isUsage reports whether err is bad input from the user.
func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u) || errors.Is(err, sweeps.ErrInvalid) ||
		errors.Is(err, fs.ErrNotExist) || status.Code(err) == codes.InvalidArgument
}

// quietAnnotation marks a command whose default log level is warn, because
// it prints its own progress.
const quietAnnotation = "flatsweep/quiet"

// globalFlags are the flags every subcommand shares.
type globalFlags struct {
	logLevel    string
	logFormat   string
	blasThreads int
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "flatsweep",
		Short: "Distributed sweeps of SGD training with curvature and flatness measures",
		Long: `flatsweep runs grids of training trials (batch size × learning rate × seed),
measures the Hessian of every trained network, and relates generalization to
the SGD noise scale g = ε(N/B − 1) and to flatness.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.logLevel == "" && cmd.Annotations[quietAnnotation] == "true" {
				g.logLevel = "warn"
			}
			if g.blasThreads < 1 {
				return usagef("--blas-threads: must be at least 1, got %d", g.blasThreads)
			}
			blas.SetThreads(g.blasThreads)
			return g.setupLogging(cmd.ErrOrStderr())
		},
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "log level: debug, info, warn or error (default info; warn for run)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().IntVar(&g.blasThreads, "blas-threads", 1,
		"OpenBLAS threads per process (builds with -tags openblas). Results depend on it, so keep it equal on all workers; trials run in parallel through --slots and --workers instead")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newRunCmd(g),
		newCoordinatorCmd(),
		newWorkerCmd(),
		newSubmitCmd(),
		newStatusCmd(),
		newResultsCmd(),
		newWatchCmd(),
		newCancelCmd(),
		newPauseCmd(),
		newResumeCmd(),
		newBackupCmd(),
		newTrainCmd(),
		newGridCmd(),
		newHessianCmd(),
		newLandscapeCmd(),
		newAnalyzeCmd(),
		newReportCmd(),
		newExportCmd(),
		newMigrateCmd(),
		newDBCmd(),
		newVersionCmd(),
		newLogsCmd(),
	)
	setExamples(root)
	return root
}

// setupLogging installs the process logger (slog) on stderr.
func (g *globalFlags) setupLogging(w io.Writer) error {
	var level slog.Level
	if g.logLevel != "" {
		if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
			return usagef("--log-level: want debug, info, warn or error, got %q", g.logLevel)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(g.logFormat) {
	case "text":
		slog.SetDefault(slog.New(slog.NewTextHandler(w, opts)))
	case "json":
		slog.SetDefault(slog.New(slog.NewJSONHandler(w, opts)))
	default:
		return usagef("--log-format: want text or json, got %q", g.logFormat)
	}
	return nil
}

// exactArgs is cobra.ExactArgs whose error is a usage error naming the arguments.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("want %s, got %d argument(s)", names, len(args))
		}
		return nil
	}
}

// loadSweep reads, validates and resolves a sweep file (the one place a
// sweep file is parsed: the coordinator receives what it returns) changed
// by the overrides (--profile, --set), returning the effective text too.
// Resolving reads the files the sweep names, to put their content digests
// into the trials' identities.
func loadSweep(path string, o sweeps.Overrides) (spec.Sweep, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return spec.Sweep{}, nil, usageError{fmt.Errorf("sweep file: %w", err)}
	}
	return parseSweep(data, path, o)
}

// parseSweep is loadSweep for a sweep file's text.
func parseSweep(data []byte, source string, o sweeps.Overrides) (spec.Sweep, []byte, error) {
	s, text, err := sweeps.ParseWith(data, source, o)
	if err != nil {
		return spec.Sweep{}, nil, err
	}
	if err := s.ResolveFiles(); err != nil {
		return spec.Sweep{}, nil, usageError{fmt.Errorf("%s: %w", source, err)}
	}
	return s, text, nil
}

// addOverrideFlags registers --profile and --set, which change a sweep file
// before it is read (sweeps.Overrides).
func addOverrideFlags(cmd *cobra.Command, o *sweeps.Overrides) {
	cmd.Flags().StringVar(&o.Profile, "profile", "", "apply the sweep file's profile of this name (its profiles: section, e.g. paper) and name the sweep NAME-PROFILE")
	cmd.Flags().StringArrayVar(&o.Set, "set", nil, "set a value of the sweep file before it is read: PATH=YAML, e.g. --set dataset.n=50000 --set 'model.hidden=[1024,1024]' (repeatable; after --profile)")
}

// submitRequest returns the request that submits a parsed sweep.
func submitRequest(s spec.Sweep, yaml []byte, source string, priority int32) (*pb.SubmitSweepRequest, error) {
	js, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return &pb.SubmitSweepRequest{SpecJson: string(js), SpecYaml: string(yaml), Source: source, Priority: priority}, nil
}
