package analysis

import (
	"cmp"
	"fmt"
	"image/color"
	"maps"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/flatsweep/flatsweep/spec"
)

// errXYs is a series with symmetric y error bars.
type errXYs struct {
	plotter.XYs
	plotter.YErrors
}

// addSeries adds points xys as a line with glyphs in style i and, when errs
// is non-nil, error bars; it returns the thumbnails for the legend.
func addSeries(p *plot.Plot, i int, xys plotter.XYs, errs plotter.YErrors, dashed bool) []plot.Thumbnailer {
	line, pts, err := plotter.NewLinePoints(xys)
	if err != nil { // only non-finite values, which callers filter out
		return nil
	}
	c := plotutil.Color(i)
	line.Color, pts.Color, pts.Shape = c, c, plotutil.Shape(i)
	if dashed {
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	p.Add(line, pts)
	if errs != nil {
		if eb, err := plotter.NewYErrorBars(errXYs{xys, errs}); err == nil {
			eb.Color = c
			p.Add(eb)
		}
	}
	return []plot.Thumbnailer{line, pts}
}

// lrPoint is one grid point of a series by learning rate: its x and the
// summary of the plotted metric.
type lrPoint struct {
	x float64
	s Summary
}

// seriesByLR groups the grid points (Aggregate) that have metric into one
// series per learning rate ε, at x = xOf(group, summary); a grid point xOf
// refuses (ok false) is counted in skipped.
func seriesByLR(points []Point, metric string, xOf func(Group, Summary) (x float64, ok bool)) (series map[float64][]lrPoint, skipped int) {
	series = map[float64][]lrPoint{}
	for _, grp := range Aggregate(points) {
		s := grp.Metric(metric)
		if s.Count == 0 {
			continue
		}
		x, ok := xOf(grp, s)
		lr, okLR := grp.Axes[AxisLR]
		if !ok || !okLR {
			skipped++
			continue
		}
		series[lr] = append(series[lr], lrPoint{x, s})
	}
	return series, skipped
}

// drawByLR draws one line per learning rate, its points in order of x, on a
// log x axis, with the 95 % intervals as error bars; logY puts the metric on
// a log axis too (the bars then span log₁₀ of the interval's ends).
func drawByLR(p *plot.Plot, leg *plot.Legend, series map[float64][]lrPoint, logY bool) {
	var xs, ys []float64
	for i, lr := range slices.Sorted(maps.Keys(series)) {
		ps := series[lr]
		slices.SortFunc(ps, func(a, b lrPoint) int { return cmp.Compare(a.x, b.x) })
		xys := make(plotter.XYs, len(ps))
		errs := make(plotter.YErrors, len(ps))
		for j, q := range ps {
			if logY {
				xys[j] = plotter.XY{X: math.Log10(q.x), Y: math.Log10(q.s.Mean)}
				if lo, hi := q.s.Lo, q.s.Hi; finite(lo) && finite(hi) && lo > 0 {
					errs[j] = struct{ Low, High float64 }{math.Log10(q.s.Mean) - math.Log10(lo), math.Log10(hi) - math.Log10(q.s.Mean)}
				}
			} else {
				xys[j] = plotter.XY{X: math.Log10(q.x), Y: q.s.Mean}
				if h := q.s.Hi - q.s.Mean; finite(h) {
					errs[j] = struct{ Low, High float64 }{h, h}
				}
			}
			xs, ys = append(xs, q.x), append(ys, q.s.Mean)
		}
		leg.Add(fmt.Sprintf("ε = %g", lr), addSeries(p, i, xys, errs, false)...)
	}
	lo, hi := minMax(xs)
	logAxis(&p.X, lo, hi)
	if logY {
		lo, hi = minMax(ys)
		logAxis(&p.Y, lo, hi)
	}
}

// AccVsG draws the seed-mean test accuracy of every grid point against its
// noise scale g = ε(N/B − 1)/(1 − m) on a log axis, one colour and line per
// learning rate ε (points in order of g), with 95 % Student-t error bars
// where a grid point has at least two seeds. Grid points with g ≤ 0 (full
// batch) cannot be placed on a log axis and are left out and counted in the
// note, as are trials that did not succeed.
func AccVsG(points []Point) *Figure {
	return lrFigure{
		title: "Test accuracy vs SGD noise scale", metric: MetricTestAcc,
		xLabel: "noise scale g = ε(N/B − 1)/(1 − m) (learning-rate units)",
		skip:   "grid points with g ≤ 0 or undefined not shown", needs: "finite test accuracy and g > 0",
		xOf: func(g Group, _ Summary) (float64, bool) {
			x := g.NoiseScale()
			return x, x > 0 && !math.IsInf(x, 0)
		},
	}.draw(points)
}

// lrFigure is a figure of one metric of every grid point against an x of
// its group, one series per learning rate (AccVsG, LambdaVsB).
type lrFigure struct {
	title, metric, xLabel string
	// skip describes the grid points xOf refuses ("%d " is put before it),
	// needs what a point must have to be drawn.
	skip, needs string
	logY        bool
	xOf         func(Group, Summary) (float64, bool)
}

// draw draws the figure of points, with the counts of what it leaves out in
// its note.
func (c lrFigure) draw(points []Point) *Figure {
	counts := CountPoints(points)
	series, skipped := seriesByLR(points, c.metric, c.xOf)
	var skipNote string
	if skipped > 0 {
		skipNote = fmt.Sprintf("%d %s", skipped, c.skip)
	}
	note := joinNotes(skipNote, countsNote(counts))
	if len(series) == 0 {
		return emptyFigure(c.title, joinNotes(noDataNote(counts, c.needs), skipNote))
	}
	p := plot.New()
	p.Title.Text = titled(c.title, note)
	p.X.Label.Text = c.xLabel
	p.Y.Label.Text = metricLabel(c.metric)
	leg := plot.NewLegend()
	drawByLR(p, &leg, series, c.logY)
	f := legendFigure(p, &leg, c.title)
	f.Note = note
	return f
}

// PlotAccVsG draws AccVsG and saves it to stem.png and stem.svg.
func PlotAccVsG(points []Point, stem string) (*Figure, error) { return saved(AccVsG(points), stem) }

// LambdaVsB draws the seed-mean top Hessian eigenvalue λ₁ of every grid
// point against its batch size B on log axes, one colour and line per
// learning rate ε (points in order of B), with 95 % Student-t error bars
// where a grid point has at least two seeds — Keskar et al.'s and Yao et
// al.'s sharpness against batch size. The edge-of-stability limit 2/ε is not
// drawn: λ₁ is measured at the end of training. Trials that did not succeed
// are counted in the note; so are grid points without a positive λ₁ (a log
// axis cannot place them).
func LambdaVsB(points []Point) *Figure {
	return lrFigure{
		title: "λ₁ vs batch size", metric: MetricLambdaMax, xLabel: "batch size B (examples)", logY: true,
		skip: "grid points without a batch size or a positive λ₁ not shown", needs: "a finite λ₁",
		xOf: func(g Group, s Summary) (float64, bool) {
			b, ok := g.Axes[AxisB]
			return b, ok && b > 0 && s.Mean > 0
		},
	}.draw(points)
}

// heatGrid is a GridXYZ over categorical cells: column c, row r at (c, r).
type heatGrid struct{ z [][]float64 } // z[r][c]

func (g heatGrid) Dims() (c, r int)   { return len(g.z[0]), len(g.z) }
func (g heatGrid) Z(c, r int) float64 { return g.z[r][c] }
func (g heatGrid) X(c int) float64    { return float64(c) }
func (g heatGrid) Y(r int) float64    { return float64(r) }

// HeatMap draws the mean of metric over B (columns) × ε (rows), both as
// categorical axes in increasing order, with a colour bar. Each cell averages
// the StatusOK trials at its (B, ε) over seeds and over every other axis that
// varies (named in the note). A metric whose finite values are positive and
// span two decades or more (typically λ₁) is coloured by log₁₀ of its value;
// the colour bar says so. Cells without a finite value are grey; up to 12×12
// cells are labelled with their value.
func HeatMap(points []Point, metric string) *Figure {
	title := metricShort(metric) + " over batch size × learning rate"
	counts := CountPoints(points)
	var over []string
	for _, name := range AxisNames(points) {
		if name != AxisB && name != AxisLR {
			over = append(over, name)
		}
	}
	var bs, lrs []float64
	type cell struct{ b, lr, v float64 }
	var cells []cell
	for _, g := range Aggregate(points, over...) {
		b, okB := g.Axes[AxisB]
		lr, okLR := g.Axes[AxisLR]
		s := g.Metric(metric)
		if !okB || !okLR || s.Count == 0 {
			continue
		}
		cells = append(cells, cell{b, lr, s.Mean})
		if !slices.Contains(bs, b) {
			bs = append(bs, b)
		}
		if !slices.Contains(lrs, lr) {
			lrs = append(lrs, lr)
		}
	}
	if len(cells) == 0 {
		return emptyFigure(title, noDataNote(counts, "finite "+metric+", B and ε"))
	}
	slices.Sort(bs)
	slices.Sort(lrs)
	z := make([][]float64, len(lrs))
	for r := range z {
		z[r] = make([]float64, len(bs))
		for c := range z[r] {
			z[r][c] = math.NaN()
		}
	}
	var vals []float64
	for _, c := range cells {
		z[slices.Index(lrs, c.lr)][slices.Index(bs, c.b)] = c.v
		vals = append(vals, c.v)
	}
	grid := heatGrid{z}
	lo, hi := minMax(vals)
	barLabel := metricLabel(metric)
	colour := grid
	if useLog(lo, hi) {
		colour = heatGrid{make([][]float64, len(z))}
		for r := range z {
			colour.z[r] = make([]float64, len(z[r]))
			for c := range z[r] {
				colour.z[r][c] = math.Log10(z[r][c])
			}
		}
		lo, hi = math.Log10(lo), math.Log10(hi)
		barLabel = "log10 of " + barLabel
	}
	if lo == hi { // one value: widen so the palette and colour bar have a range
		d := max(math.Abs(lo)*1e-3, 1e-9)
		lo, hi = lo-d, hi+d
	}
	var missing, varied string
	if n := len(bs)*len(lrs) - len(cells); n > 0 {
		missing = fmt.Sprintf("%d grey cells without data", n)
	}
	if len(cells) == 1 {
		missing = "a single grid point"
	}
	if v := varyingAxes(points); len(v) > 0 {
		var others []string
		for _, a := range v {
			if a != AxisB && a != AxisLR {
				others = append(others, a)
			}
		}
		if len(others) > 0 {
			varied = "mean over " + strings.Join(others, ", ")
		}
	}
	note := joinNotes(missing, varied, countsNote(counts))

	cmap := moreland.SmoothBlueRed()
	cmap.SetMin(lo)
	cmap.SetMax(hi)
	h := plotter.NewHeatMap(colour, cmap.Palette(255))
	h.Min, h.Max = lo, hi
	h.NaN = color.Gray{Y: 200}
	p := plot.New()
	p.Title.Text = titled(title, note)
	p.Add(h)
	p.X.Label.Text = "batch size B (examples)"
	p.Y.Label.Text = "learning rate ε"
	p.X.Tick.Marker = categoricalTicks(bs)
	p.Y.Tick.Marker = categoricalTicks(lrs)
	if len(bs)*len(lrs) <= 144 {
		var xys plotter.XYs
		var labels []string
		for r := range lrs {
			for c := range bs {
				if v := grid.Z(c, r); finite(v) {
					xys = append(xys, plotter.XY{X: float64(c), Y: float64(r)})
					labels = append(labels, fmt.Sprintf("%.3g", v))
				}
			}
		}
		if l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels}); err == nil {
			for i := range l.TextStyle {
				l.TextStyle[i] = textStyle(8)
			}
			p.Add(l)
		}
	}

	bar := plot.New()
	bar.Add(&plotter.ColorBar{ColorMap: cmap, Vertical: true})
	bar.HideX()
	bar.Y.Padding = 0
	bar.Y.Label.Text = barLabel
	bar.Title.Text = titled(" ", strings.Repeat("\n", strings.Count(p.Title.Text, "\n")))

	const barWidth = 3.2 * vg.Centimeter
	f := &Figure{Title: title, Note: note, Width: figWidth + barWidth, Height: figHeight}
	f.draw = func(c draw.Canvas) {
		p.Draw(draw.Crop(c, 0, -barWidth, 0, 0))
		bc := draw.Crop(c, c.Max.X-c.Min.X-barWidth+vg.Millimeter, 0, 0, 0)
		// Shorten the bar to roughly the heat map's data area (no x axis).
		bar.Draw(draw.Crop(bc, 0, -4*vg.Millimeter, 1.5*vg.Centimeter, 0))
	}
	return f
}

// PlotHeatMap draws HeatMap and saves it to stem.png and stem.svg.
func PlotHeatMap(points []Point, metric, stem string) (*Figure, error) {
	return saved(HeatMap(points, metric), stem)
}

// categoricalTicks labels positions 0, 1, … with vals.
func categoricalTicks(vals []float64) plot.ConstantTicks {
	ticks := make(plot.ConstantTicks, len(vals))
	for i, v := range vals {
		ticks[i] = plot.Tick{Value: float64(i), Label: fmt.Sprintf("%g", v)}
	}
	return ticks
}

// seriesByBatch collects (x, y) = (metric mx, metric my) over the StatusOK
// points with both finite, split by batch size B (NaN where the point has
// none), and returns all the xs and ys too.
func seriesByBatch(points []Point, mx, my string) (series map[float64]plotter.XYs, xs, ys []float64) {
	series = map[float64]plotter.XYs{}
	for _, q := range okPoints(points) {
		x, y := q.Metric(mx), q.Metric(my)
		if !finite(x) || !finite(y) {
			continue
		}
		b, ok := q.Axes[AxisB]
		if !ok {
			b = math.NaN()
		}
		series[b] = append(series[b], plotter.XY{X: x, Y: y})
		xs, ys = append(xs, x), append(ys, y)
	}
	return series, xs, ys
}

// addBatchScatters draws one scatter per batch size, in increasing B, with
// its own colour and shape and a legend entry "B = …".
func addBatchScatters(p *plot.Plot, leg *plot.Legend, series map[float64]plotter.XYs) {
	for i, b := range slices.Sorted(maps.Keys(series)) {
		sc, err := plotter.NewScatter(series[b])
		if err != nil {
			continue
		}
		sc.Color, sc.Shape = plotutil.Color(i), plotutil.Shape(i)
		p.Add(sc)
		leg.Add(fmt.Sprintf("B = %g", b), sc)
	}
}

// MeasureVsGap scatters a flatness measure (x) against the generalization gap
// train_acc − test_acc (y) over the StatusOK trials with both finite, one
// colour per batch size B, and gives Kendall's τ-b over those trials in the
// title. The x axis is logarithmic when the measure is positive and spans two
// decades or more.
func MeasureVsGap(points []Point, measure string) *Figure {
	title := metricShort(measure) + " vs generalization gap"
	counts := CountPoints(points)
	series, xs, ys := seriesByBatch(points, measure, MetricGap)
	if len(xs) == 0 {
		return emptyFigure(title, noDataNote(counts, "finite "+measure+" and gap"))
	}
	tau, n, err := KendallTauB(xs, ys)
	tauNote := fmt.Sprintf("Kendall τ-b = %.3f over %d trials", tau, n)
	if err != nil {
		tauNote = fmt.Sprintf("Kendall τ-b undefined over %d trials", n)
	}
	note := countsNote(counts)
	p := plot.New()
	p.Title.Text = titled(title, joinNotes(tauNote, note))
	p.X.Label.Text = metricLabel(measure)
	p.Y.Label.Text = metricLabel(MetricGap)
	lo, hi := minMax(xs)
	logX := useLog(lo, hi)
	if logX {
		for _, xys := range series {
			for i := range xys {
				xys[i].X = math.Log10(xys[i].X)
			}
		}
		p.X.Label.Text += ", log scale"
	}
	leg := plot.NewLegend()
	addBatchScatters(p, &leg, series)
	if logX {
		logAxis(&p.X, lo, hi)
	}
	f := legendFigure(p, &leg, title)
	f.Note = note
	return f
}

// PlotMeasureVsGap draws MeasureVsGap and saves it to stem.png and stem.svg.
func PlotMeasureVsGap(points []Point, measure, stem string) (*Figure, error) {
	return saved(MeasureVsGap(points, measure), stem)
}

// densityFloor is the smallest density drawn on the log axis of
// SpectralDensity, relative to the largest.
const densityFloor = 1e-8

// SpectralDensity draws a Hessian spectral density (e.g. from stochastic
// Lanczos quadrature) given at eigenvalues x: a line in order of x with a log
// density axis, densities below 10⁻⁸ of the maximum clipped to that floor
// (and counted in the note). Pairs with a non-finite value are left out and
// counted. It returns ErrLengthMismatch when len(x) ≠ len(density).
func SpectralDensity(x, density []float64) (*Figure, error) {
	const title = "Hessian spectral density"
	if len(x) != len(density) {
		return nil, fmt.Errorf("spectral density: %d eigenvalues, %d densities: %w", len(x), len(density), ErrLengthMismatch)
	}
	var xys plotter.XYs
	var bad int
	for i := range x {
		if finite(x[i]) && finite(density[i]) {
			xys = append(xys, plotter.XY{X: x[i], Y: density[i]})
		} else {
			bad++
		}
	}
	var badNote string
	if bad > 0 {
		badNote = fmt.Sprintf("%d non-finite values left out", bad)
	}
	if len(xys) == 0 {
		return emptyFigure(title, joinNotes("no spectral density", badNote)), nil
	}
	slices.SortFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
	_, top := minMax(yValues(xys))
	p := plot.New()
	p.X.Label.Text = "Hessian eigenvalue λ (nats per unit θ²)"
	p.Y.Label.Text = "spectral density (per unit λ)"
	var clipNote string
	if top > 0 {
		floor := top * densityFloor
		var clipped int
		for i := range xys {
			if xys[i].Y < floor {
				xys[i].Y = floor
				clipped++
			}
		}
		if clipped > 0 {
			clipNote = fmt.Sprintf("%d densities below %.0e × max clipped", clipped, densityFloor)
		}
		for i := range xys {
			xys[i].Y = math.Log10(xys[i].Y)
		}
		logAxis(&p.Y, floor, top)
		p.Y.Label.Text += ", log scale"
	}
	note := joinNotes(badNote, clipNote)
	p.Title.Text = titled(title, note)
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, fmt.Errorf("spectral density: %w", err)
	}
	l.Color = plotutil.Color(0)
	p.Add(l)
	f := newFigure(p, title)
	f.Note = note
	return f, nil
}

// PlotSpectralDensity draws SpectralDensity and saves it to stem.png and
// stem.svg.
func PlotSpectralDensity(x, density []float64, stem string) (*Figure, error) {
	f, err := SpectralDensity(x, density)
	if err != nil {
		return nil, err
	}
	return saved(f, stem)
}

func yValues(xys plotter.XYs) []float64 {
	ys := make([]float64, len(xys))
	for i, p := range xys {
		ys[i] = p.Y
	}
	return ys
}

// Curve is one training curve: a metric per epoch of one trial.
type Curve struct {
	// Label names the trial in the legend.
	Label string
	// Epochs and Values are the x and y values; non-finite pairs are skipped.
	Epochs, Values []float64
	// Diverged marks a trial whose loss diverged: drawn dashed.
	Diverged bool
}

// CurvesFromPoints returns the per-epoch curve of metric (MetricTestAcc,
// MetricTrainAcc, MetricTestLoss or MetricTrainLoss) of every point with a
// recorded curve, labelled by the axes that vary among the points (the seed
// included), e.g. "batch_size=32, lr=0.1, seed=2". Diverged trials are included and
// marked.
func CurvesFromPoints(points []Point, metric string) []Curve {
	var withCurve []Point
	for _, p := range points {
		if len(p.Curve) > 0 {
			withCurve = append(withCurve, p)
		}
	}
	labels := curveLabels(withCurve)
	var out []Curve
	for i, p := range withCurve {
		label := labels[i]
		c := Curve{Label: label, Diverged: p.Status == StatusDiverged}
		if c.Diverged {
			c.Label += " (diverged)"
		}
		for _, e := range p.Curve {
			c.Epochs = append(c.Epochs, float64(e.Epoch))
			c.Values = append(c.Values, epochMetric(e, metric))
		}
		out = append(out, c)
	}
	return out
}

// curveLabels labels each point by the axes that vary among the points (the
// seed included), e.g. "batch_size=32, lr=0.1, seed=2", or by its ID when
// none varies.
func curveLabels(points []Point) []string {
	axes := varyingAxes(points)
	if seeds := Aggregate(points, AxisSeed); len(seeds) < len(points) {
		axes = append(axes, AxisSeed)
	}
	out := make([]string, len(points))
	for i, p := range points {
		var parts []string
		for _, a := range axes {
			if v, ok := p.Axes[a]; ok {
				parts = append(parts, fmt.Sprintf("%s=%g", a, v))
			}
		}
		out[i] = strings.Join(parts, ", ")
		if out[i] == "" {
			out[i] = p.ID
		}
	}
	return out
}

// epochMetric returns the named field of e, NaN for an unknown name.
func epochMetric(e spec.EpochMetrics, name string) float64 {
	switch name {
	case MetricTestAcc:
		return e.TestAcc
	case MetricTrainAcc:
		return e.TrainAcc
	case MetricTestLoss:
		return e.TestLoss
	case MetricTrainLoss:
		return e.TrainLoss
	}
	return math.NaN()
}

// TrainingCurves draws each curve against the epoch, one colour per curve,
// diverged curves dashed, with the metric's label (MetricTestAcc when metric
// is empty) on the y axis. Non-finite values are left out (a diverged curve
// ends at its last finite epoch) and curves with no finite value are named in
// the note.
func TrainingCurves(curves []Curve, metric string) *Figure {
	if metric == "" {
		metric = MetricTestAcc
	}
	title := "Training curves: " + metricLabel(metric)
	p := plot.New()
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = metricLabel(metric)
	leg := plot.NewLegend()
	var empty []string
	drawn := 0
	for i, c := range curves {
		var xys plotter.XYs
		for j := range min(len(c.Epochs), len(c.Values)) {
			if finite(c.Epochs[j]) && finite(c.Values[j]) {
				xys = append(xys, plotter.XY{X: c.Epochs[j], Y: c.Values[j]})
			}
		}
		if len(xys) == 0 {
			empty = append(empty, c.Label)
			continue
		}
		leg.Add(c.Label, addSeries(p, i, xys, nil, c.Diverged)...)
		drawn++
	}
	var note string
	if len(empty) > 0 {
		note = fmt.Sprintf("%d curves without finite values: %s", len(empty), strings.Join(empty, "; "))
	}
	if drawn == 0 {
		return emptyFigure(title, joinNotes("no training curves", note))
	}
	p.Title.Text = titled(title, note)
	f := legendFigure(p, &leg, title)
	f.Note = note
	return f
}

// PlotTrainingCurves draws TrainingCurves and saves it to stem.png and
// stem.svg.
func PlotTrainingCurves(curves []Curve, metric, stem string) (*Figure, error) {
	return saved(TrainingCurves(curves, metric), stem)
}
