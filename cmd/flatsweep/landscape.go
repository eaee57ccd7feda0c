package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flatsweep/flatsweep/analysis"
	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/compute/landscape"
	"github.com/flatsweep/flatsweep/compute/weights"
	"github.com/flatsweep/flatsweep/spec"
)

// Defaults of `flatsweep landscape` for the line between two models.
const (
	defaultLineFrom   = -1.0
	defaultLineUntil  = 2.0
	defaultLinePoints = 31
)

// landscapeFile is the file `flatsweep landscape --out` writes the
// spec.Landscape to; the figures are landscape-*.png and .svg beside it.
const landscapeFile = "landscape.json"

// landscapeFlags are the flags of `flatsweep landscape`.
type landscapeFlags struct {
	weights, to, trial, out, format, bias string
	from, until, extent                   float64
	points, dims, examples, testExamples  int
	seed                                  int64
}

func newLandscapeCmd() *cobra.Command {
	f := &landscapeFlags{}
	cmd := &cobra.Command{
		Use:   "landscape --weights FILE [--to FILE2] [--dims 1|2] [--points N] [--out DIR]",
		Short: "Loss landscape of a saved model: filter-normalized slices, or the line to a second model",
		Long: `landscape evaluates the mean loss and the accuracy of a saved model on a
training and a test subset at points of a line or a plane in parameter space,
and prints a table, the cost and the wall time.

With --to it draws Keskar et al.'s line between two models of the same
network, θ(α) = (1 − α)·θ_A + α·θ_B for α from --from to --until (default
−1 to 2, 31 points): α = 0 is --weights, α = 1 is --to.

Without --to it draws Li et al.'s filter-normalized slice around --weights:
θ + a·d₁ (--dims 1) or θ + a·d₁ + b·d₂ (--dims 2), a and b on --points
values in [−extent, extent]. Each direction is drawn from N(0, I) with the
seed (--seed, default the trial's) and every filter of it (a row of a Dense
layer's weights, an output channel of a convolution) is rescaled to the norm
of the same filter of θ; --bias zero (default) sets the directions' biases to
0, --bias normalize rescales each layer's bias vector as one filter.

The model, its data and the defaults come from a trial spec, as in hessian:
--spec names the trial.json train writes (default: the spec in the weights'
metadata); its curvature.landscape block, if any, gives the slice settings,
which the flags override. Defaults: dims 1, 51 points (21 per axis for
dims 2), extent 1, 1000 training and 1000 test examples (fixed subsets drawn
from the seed; the whole set when smaller), bias zero. The cost is one
forward pass over both subsets per grid point; the first layer's products
are computed once and shared by all points. docs/SCIENCE.md defines the
directions.

--out DIR writes landscape.json (the grid and its values) and the figures:
landscape-loss and landscape-accuracy (along the line or direction; for a
plane, the row b = 0) and, for a plane, landscape-train-contour and
landscape-test-contour, as PNG and SVG.

Bad input (missing or mismatched files, models of different networks for a
line, a grid of zero or negative extent, fewer than 2 points, dims other than
1 or 2) exits with status 2.`,
		Example: `  flatsweep landscape --weights sb/weights.safetensors --to lb/weights.safetensors --out line/
  flatsweep landscape --weights model/weights.safetensors --dims 2 --points 51 --out plane/
  flatsweep landscape --weights model/weights.safetensors --spec model/trial.json --extent 0.5 --bias normalize --format json`,
		Args: exactArgs(0, "no arguments (give --weights)"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runLandscape(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.weights, "weights", "", "safetensors file of the model (required; θ_A of a line)")
	fl.StringVar(&f.to, "to", "", "safetensors file of a second model of the same network: draw the line (1 − α)·θ_A + α·θ_B")
	fl.Float64Var(&f.from, "from", defaultLineFrom, "first α of the line (with --to)")
	fl.Float64Var(&f.until, "until", defaultLineUntil, "last α of the line (with --to)")
	fl.IntVar(&f.points, "points", 0, "grid values per axis, ≥ 2 (default 31 for a line, 51 for --dims 1, 21 for --dims 2, or curvature.landscape.points)")
	fl.IntVar(&f.dims, "dims", 0, "1 (a line along one direction) or 2 (a plane) (default curvature.landscape.dims, else 1)")
	fl.Float64Var(&f.extent, "extent", 0, "the slice spans [−extent, extent] per axis, > 0 (default curvature.landscape.extent, else 1)")
	fl.IntVar(&f.examples, "examples", 0, "training examples evaluated (default curvature.landscape.examples, else 1000; the whole set when smaller)")
	fl.IntVar(&f.testExamples, "test-examples", 0, "test examples evaluated (default curvature.landscape.test_examples, else 1000)")
	fl.StringVar(&f.bias, "bias", "", `biases of the directions: "zero" or "normalize" (default curvature.landscape.bias, else zero)`)
	fl.Int64Var(&f.seed, "seed", 0, "seed of the subsets and directions (default the trial's seed)")
	fl.StringVar(&f.trial, "spec", "", "trial.json written by train, or a trial spec as JSON (default: the spec in the weights' metadata)")
	fl.StringVar(&f.out, "out", "", "directory to write landscape.json and the figures to (created if missing)")
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

// landscapeReport is the JSON output of `flatsweep landscape`.
type landscapeReport struct {
	TrialID     string          `json:"trial_id,omitempty"`
	Weights     string          `json:"weights"`
	To          string          `json:"to,omitempty"`
	Params      int             `json:"params"`
	Seed        int64           `json:"seed"`
	Extent      float64         `json:"extent,omitempty"`
	Bias        string          `json:"bias,omitempty"`
	WallSeconds float64         `json:"wall_seconds"`
	Files       []string        `json:"files,omitempty"`
	Landscape   *spec.Landscape `json:"landscape"`
}

// checkLandscapeFlags checks the flags' own values and their combination,
// before any file is read.
func checkLandscapeFlags(fl *pflag.FlagSet, f *landscapeFlags) error {
	switch {
	case f.format != "table" && f.format != "json":
		return usagef("--format: want table or json, got %q", f.format)
	case f.weights == "":
		return usagef("--weights: the model's safetensors file is required")
	case fl.Changed("dims") && f.dims != 1 && f.dims != 2:
		return usagef("--dims: want 1 or 2, got %d", f.dims)
	case fl.Changed("points") && (f.points < 2 || f.points > spec.MaxLandscapePoints):
		return usagef("--points: want 2…%d grid values per axis, got %d", spec.MaxLandscapePoints, f.points)
	case fl.Changed("extent") && !(f.extent > 0 && !math.IsInf(f.extent, 0)):
		return usagef("--extent: %v: a grid of zero or negative extent has no points; want a finite number > 0", f.extent)
	case fl.Changed("examples") && f.examples < 1:
		return usagef("--examples: want ≥ 1 training examples, got %d", f.examples)
	case fl.Changed("test-examples") && f.testExamples < 1:
		return usagef("--test-examples: want ≥ 1 test examples, got %d", f.testExamples)
	case fl.Changed("bias") && f.bias != spec.BiasZero && f.bias != spec.BiasNormalize:
		return usagef("--bias: want zero or normalize, got %q", f.bias)
	}
	if f.to != "" {
		for _, name := range []string{"dims", "extent", "bias"} {
			if fl.Changed(name) {
				return usagef("--%s: only for a slice around --weights, not for the line to --to", name)
			}
		}
		if math.IsNaN(f.from) || math.IsInf(f.from, 0) {
			return usagef("--from: want a finite α, got %v", f.from)
		}
		if !(f.until > f.from) || math.IsInf(f.until, 0) {
			return usagef("--until: want a finite α > --from (%v), got %v", f.from, f.until)
		}
		return nil
	}
	for _, name := range []string{"from", "until"} {
		if fl.Changed(name) {
			return usagef("--%s: only for the line between two models (give --to)", name)
		}
	}
	return nil
}

// sliceSettings returns the slice settings: the spec's curvature.landscape
// (dims 1 when it has none) with the flags that were given.
func sliceSettings(fl *pflag.FlagSet, f *landscapeFlags, base spec.LandscapeSettings) spec.LandscapeSettings {
	s := base
	if s == (spec.LandscapeSettings{}) {
		s.Dims = 1
	}
	if fl.Changed("dims") {
		if f.dims != s.Dims && !fl.Changed("points") {
			s.Points = 0 // the spec's points were for its own dims; take the default of these
		}
		s.Dims = f.dims
	}
	if fl.Changed("points") {
		s.Points = f.points
	}
	if fl.Changed("extent") {
		s.Extent = f.extent
	}
	if fl.Changed("examples") {
		s.Examples = f.examples
	}
	if fl.Changed("test-examples") {
		s.TestExamples = f.testExamples
	}
	if fl.Changed("bias") {
		s.Bias = f.bias
	}
	return s
}

// landscapeFlagged names the flag of a curvature.landscape setting that an
// error is about, when that flag was given.
func landscapeFlagged(fl *pflag.FlagSet, err error) error {
	var fe *spec.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	key, ok := strings.CutPrefix(fe.Field, "curvature.landscape.")
	if name := strings.ReplaceAll(key, "_", "-"); ok && fl.Lookup(name) != nil && fl.Changed(name) {
		return fmt.Errorf("--%s: %w", name, err)
	}
	return err
}

func runLandscape(cmd *cobra.Command, f *landscapeFlags) error {
	fl := cmd.Flags()
	if err := checkLandscapeFlags(fl, f); err != nil {
		return err
	}
	started := time.Now()
	wb, err := os.ReadFile(f.weights)
	if err != nil {
		return usageError{fmt.Errorf("--weights: %w", err)}
	}
	t, id, err := hessianSpec(f.weights, f.trial, wb)
	if err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return usageError{err}
	}
	model, trainSet, testSet, err := compute.LoadModelSets(t, bytes.NewReader(wb))
	if errors.Is(err, spec.ErrInvalid) || errors.Is(err, weights.ErrMismatch) || errors.Is(err, weights.ErrUnsupported) {
		return usageError{fmt.Errorf("%s: %w", f.weights, err)}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.weights, err)
	}
	if fl.Changed("seed") {
		t.Seed = f.seed
	}
	rep := landscapeReport{TrialID: id, Weights: f.weights, To: f.to, Params: model.Net.NumParams(), Seed: t.Seed}
	var evalStart time.Time
	if f.to != "" {
		other, err := secondModel(f, t, model)
		if err != nil {
			return err
		}
		points := defaultLinePoints
		if fl.Changed("points") {
			points = f.points
		}
		s := t.Curvature.Landscape.WithDefaults()
		examples, testExamples := cmp.Or(f.examples, s.Examples, spec.DefaultLandscapeExamples), cmp.Or(f.testExamples, s.TestExamples, spec.DefaultLandscapeExamples)
		evalStart = time.Now()
		rep.Landscape, err = compute.LandscapeLine(cmd.Context(), t, model.Net, model.Theta, other,
			landscape.Grid(f.from, f.until, points), trainSet, testSet, examples, testExamples)
		if err != nil {
			return err
		}
	} else {
		s := sliceSettings(fl, f, t.Curvature.Landscape)
		if err := s.Validate(trainSet.Len(), testSet.Len()); err != nil {
			return usageError{landscapeFlagged(fl, err)}
		}
		t.Curvature.Landscape = s
		d := s.WithDefaults()
		rep.Extent, rep.Bias = d.Extent, d.Bias
		evalStart = time.Now()
		rep.Landscape, err = compute.Landscape(cmd.Context(), t, model.Net, model.Theta, trainSet, testSet)
		if errors.Is(err, spec.ErrInvalid) {
			return usageError{landscapeFlagged(fl, err)}
		}
		if err != nil {
			return err
		}
	}
	rep.WallSeconds = time.Since(evalStart).Seconds()
	if f.out != "" {
		if rep.Files, err = writeLandscape(f.out, rep.Landscape); err != nil {
			return err
		}
	}
	if f.format == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printLandscape(cmd.OutOrStdout(), rep, time.Since(started).Seconds())
}

// secondModel reads the θ of --to for the network of the first model. The
// two must be the same network: a spec in --to's metadata must name the
// same model, and the file must fit the network (the same tensors and
// parameter count); otherwise it is a usage error naming --to. A network
// with batch normalization has no line (each model has its own running
// statistics).
func secondModel(f *landscapeFlags, t spec.Trial, first compute.Model) ([]float64, error) {
	if first.Net.NumBuffers() > 0 {
		return nil, usagef("--to %s: the network has batch normalization, whose running statistics are those of one model: the line between two models has none in between", f.to)
	}
	b, err := os.ReadFile(f.to)
	if err != nil {
		return nil, usageError{fmt.Errorf("--to: %w", err)}
	}
	other, ok, err := specFromMetadata("--to", f.to, b)
	if err != nil {
		return nil, err
	}
	if ok {
		if a, b := t.Resolved().Model, other.Resolved().Model; !reflect.DeepEqual(a, b) {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			return nil, usagef("--to %s: a model of another network (%s) than --weights (%s): the line needs two models of the same network", f.to, jb, ja)
		}
	}
	theta, err := compute.ReadTheta(bytes.NewReader(b), first.Net)
	if err != nil {
		return nil, usageError{fmt.Errorf("--to %s: not a model of the network of --weights (%d parameters): %w", f.to, first.Net.NumParams(), err)}
	}
	return theta, nil
}

// writeLandscape writes landscape.json and the figures into dir.
func writeLandscape(dir string, l *spec.Landscape) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, usageError{fmt.Errorf("--out: %w", err)}
	}
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("landscape: %w", err)
	}
	path := filepath.Join(dir, landscapeFile)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	files := []string{path}
	figs, err := analysis.PlotLandscape(*l, filepath.Join(dir, "landscape"))
	for _, fig := range figs {
		files = append(files, fig.Files...)
	}
	if err != nil {
		return files, fmt.Errorf("--out: %w", err)
	}
	return files, nil
}

// printLandscape writes the report as a table: the settings and the cost,
// then the values along the line or direction (for a plane, the row b = 0),
// at most about 21 rows.
func printLandscape(w io.Writer, r landscapeReport, total float64) error {
	l := r.Landscape
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "weights\t%s\n", r.Weights)
	if r.TrialID != "" {
		fmt.Fprintf(tw, "trial\t%s\n", r.TrialID)
	}
	fmt.Fprintf(tw, "parameters\t%d\n", r.Params)
	n := len(l.A)
	switch l.Kind {
	case spec.LandscapeLine:
		fmt.Fprintf(tw, "to\t%s\n", r.To)
		fmt.Fprintf(tw, "line\t(1 − α)·θ_A + α·θ_B, α from %g to %g, %d points\n", l.A[0], l.A[n-1], n)
	case spec.Landscape2D:
		fmt.Fprintf(tw, "plane\tθ + a·d₁ + b·d₂, %d × %d points over [−%g, %g]²\n", n, len(l.B), r.Extent, r.Extent)
	default:
		fmt.Fprintf(tw, "slice\tθ + a·d₁, %d points over [−%g, %g]\n", n, r.Extent, r.Extent)
	}
	if l.Kind != spec.LandscapeLine {
		fmt.Fprintf(tw, "directions\tfilter-normalized, bias %s, seed %d\n", r.Bias, r.Seed)
	} else {
		fmt.Fprintf(tw, "subsets\tseed %d\n", r.Seed)
	}
	fmt.Fprintf(tw, "examples\t%d train, %d test\n", l.Examples, l.TestExamples)
	fmt.Fprintf(tw, "evaluations\t%d grid points × %d examples = %d example forward passes\n",
		l.Evaluations, l.Examples+l.TestExamples, l.Evaluations*(l.Examples+l.TestExamples))
	fmt.Fprintf(tw, "wall time\t%.1f s evaluating (%.1f ms per point), %.1f s in all\n",
		r.WallSeconds, 1e3*r.WallSeconds/float64(max(l.Evaluations, 1)), total)
	for _, f := range r.Files {
		fmt.Fprintf(tw, "wrote\t%s\n", f)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	coord := "a"
	if l.Kind == spec.LandscapeLine {
		coord = "α"
	}
	off, b := l.ZeroRow()
	if len(l.B) > 0 {
		fmt.Fprintf(w, "row b = %g:\n", b)
	}
	fmt.Fprintf(tw, "%s\ttrain loss\ttrain acc\ttest loss\ttest acc\t\n", coord)
	step := max(1, (n-1+19)/20)
	for i := 0; i < n; i += step {
		p := off + i
		fmt.Fprintf(tw, "%.4g\t%.6g\t%.4f\t%.6g\t%.4f\t\n", l.A[i], l.TrainLoss[p], l.TrainAcc[p], l.TestLoss[p], l.TestAcc[p])
		if i+step >= n && i != n-1 {
			i = n - 1 - step // end on the last point
		}
	}
	return tw.Flush()
}
