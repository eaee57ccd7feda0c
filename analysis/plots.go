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
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/flatsweep/flatsweep/spec"
)

// errXYs is a series with y error bars.
type errXYs struct {
	plotter.XYs
	plotter.YErrors
}

// addSeries adds points xys as a line with glyphs in style i (seriesColor,
// seriesShape, seriesDashes) and, when errs is non-nil, error bars; dashed
// forces a dashed line. It returns the thumbnails for the legend.
func addSeries(p *plot.Plot, i int, xys plotter.XYs, errs plotter.YErrors, dashed bool) []plot.Thumbnailer {
	line, pts, err := plotter.NewLinePoints(xys)
	if err != nil { // only non-finite values, which callers filter out
		return nil
	}
	c := seriesColor(i)
	line.Color, pts.Color, pts.Shape = c, c, seriesShape(i)
	line.Width = vg.Points(1.5)
	line.Dashes = seriesDashes(i)
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

// addBand adds a translucent band of the colour of series i between lo and
// hi at xs (the points with finite bounds; a band needs two).
func addBand(p *plot.Plot, i int, xs, lo, hi []float64) {
	var upper, lower plotter.XYs
	for k := range xs {
		if finite(xs[k]) && finite(lo[k]) && finite(hi[k]) {
			upper = append(upper, plotter.XY{X: xs[k], Y: hi[k]})
			lower = append(lower, plotter.XY{X: xs[k], Y: lo[k]})
		}
	}
	if len(upper) < 2 {
		return
	}
	ring := append(plotter.XYs{}, upper...)
	for k := len(lower) - 1; k >= 0; k-- {
		ring = append(ring, lower[k])
	}
	if poly, err := plotter.NewPolygon(ring); err == nil {
		poly.Color = withAlpha(seriesColor(i), 0.18)
		poly.LineStyle.Width = 0
		p.Add(poly)
	}
}

// isAccuracy reports whether metric is an accuracy, a fraction in [0, 1].
func isAccuracy(metric string) bool { return metric == MetricTestAcc || metric == MetricTrainAcc }

// clipAccuracyAxis limits an accuracy axis to [0, 1] around the values lo…hi.
func clipAccuracyAxis(a *plot.Axis, lo, hi float64) {
	pad := max(0.05*(hi-lo), 0.01)
	a.Min, a.Max = max(lo-pad, 0), min(hi+pad, 1)
}

// lrPoint is one grid point of a series by learning rate: its x, the
// summary of the plotted metric and its 95 % interval [lo, hi].
type lrPoint struct {
	x      float64
	s      Summary
	lo, hi float64
}

// seriesByLR groups the grid points (Aggregate) that have metric into one
// series per learning rate ε, at x = xOf(group, summary); a grid point xOf
// refuses (ok false) is counted in skipped. The interval of an accuracy is
// AccInterval's (seeds and the test set's binomial error, clipped to
// [0, 1]); of any other metric the Student-t interval over seeds.
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
		q := lrPoint{x: x, s: s, lo: s.Lo, hi: s.Hi}
		if isAccuracy(metric) {
			nTest := 0
			if metric == MetricTestAcc {
				nTest = testExamples(grp.Points)
			}
			iv := AccInterval(s, nTest)
			q.lo, q.hi = iv.Lo, iv.Hi
		}
		series[lr] = append(series[lr], q)
	}
	return series, skipped
}

// drawByLR draws one line per learning rate, its points in order of x, on a
// log x axis, with the 95 % intervals as a translucent band (linear y) or
// error bars (logY: the metric on a log axis too, the bars spanning log₁₀
// of the interval's ends where the lower end is positive). An accuracy's
// axis is clipped to [0, 1].
func drawByLR(p *plot.Plot, leg *plot.Legend, series map[float64][]lrPoint, logY bool, metric string) {
	var xs, ys []float64
	for i, lr := range slices.Sorted(maps.Keys(series)) {
		ps := series[lr]
		slices.SortFunc(ps, func(a, b lrPoint) int { return cmp.Compare(a.x, b.x) })
		xys := make(plotter.XYs, len(ps))
		var errs plotter.YErrors
		bx, blo, bhi := make([]float64, len(ps)), make([]float64, len(ps)), make([]float64, len(ps))
		for j, q := range ps {
			if logY {
				xys[j] = plotter.XY{X: math.Log10(q.x), Y: math.Log10(q.s.Mean)}
				errs = append(errs, struct{ Low, High float64 }{})
				if lo, hi := q.lo, q.hi; finite(lo) && finite(hi) && lo > 0 {
					errs[j] = struct{ Low, High float64 }{math.Log10(q.s.Mean) - math.Log10(lo), math.Log10(hi) - math.Log10(q.s.Mean)}
					ys = append(ys, lo, hi)
				}
			} else {
				xys[j] = plotter.XY{X: math.Log10(q.x), Y: q.s.Mean}
				bx[j], blo[j], bhi[j] = xys[j].X, q.lo, q.hi
				if finite(q.lo) && finite(q.hi) {
					ys = append(ys, q.lo, q.hi)
				}
			}
			xs, ys = append(xs, q.x), append(ys, q.s.Mean)
		}
		if !logY {
			addBand(p, i, bx, blo, bhi)
		}
		leg.Add(fmt.Sprintf("ε = %g", lr), addSeries(p, i, xys, errs, false)...)
	}
	lo, hi := minMax(xs)
	logAxis(&p.X, lo, hi)
	lo, hi = minMax(ys)
	switch {
	case logY:
		logAxis(&p.Y, lo, hi)
	case isAccuracy(metric):
		clipAccuracyAxis(&p.Y, lo, hi)
	}
}

// AccVsG draws the seed-mean test accuracy of every grid point against its
// noise scale g = ε(N/B − 1)/(1 − m) on a log axis, one colour and line per
// learning rate ε (points in order of g), with a band of the 95 % interval
// of each point (seeds and the test set's binomial error, AccInterval) on
// an axis clipped to [0, 1]. Grid points with g ≤ 0 (full batch) cannot be
// placed on a log axis and are left out and counted in the note, as are
// trials that did not succeed. When g applies to no trial (Adam, a
// batch-size schedule) the figure says so instead.
func AccVsG(points []Point) *Figure {
	const title = "Test accuracy vs SGD noise scale"
	ok := okPoints(points)
	if len(ok) > 0 && allNoG(ok) {
		return emptyFigure(title, "the noise scale g describes SGD: it does not apply to these trials (Adam or a batch-size schedule)")
	}
	return lrFigure{
		title: title, metric: MetricTestAcc,
		xLabel: "noise scale g = ε(N/B − 1)/(1 − m) (learning-rate units, log scale)",
		skip:   "grid points with g ≤ 0 or undefined not shown", needs: "finite test accuracy and g > 0",
		xOf: func(g Group, _ Summary) (float64, bool) {
			x := g.NoiseScale()
			return x, x > 0 && !math.IsInf(x, 0)
		},
	}.draw(points)
}

// AccVsB draws the seed-mean test accuracy of every grid point against its
// batch size B on a log axis, one colour and line per learning rate ε, with
// the band of AccInterval on an axis clipped to [0, 1]: the figure for
// sweeps whose noise scale does not apply (Adam).
func AccVsB(points []Point) *Figure {
	return lrFigure{
		title: "Test accuracy vs batch size", metric: MetricTestAcc, xLabel: "batch size B (examples, log scale)",
		skip: "grid points without a batch size not shown", needs: "finite test accuracy",
		xOf: func(g Group, _ Summary) (float64, bool) {
			b, ok := g.Axes[AxisB]
			return b, ok && b > 0
		},
	}.draw(points)
}

// lrFigure is a figure of one metric of every grid point against an x of
// its group, one series per learning rate (AccVsG, MeasureVsB).
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
	drawByLR(p, &leg, series, c.logY, c.metric)
	f := legendFigure(p, &leg, c.title)
	f.Note = note
	return f
}

// PlotAccVsG draws AccVsG and saves it to stem.png and stem.svg.
func PlotAccVsG(points []Point, stem string) (*Figure, error) { return saved(AccVsG(points), stem) }

// LambdaVsB is MeasureVsB of λ₁: Keskar et al.'s and Yao et al.'s
// sharpness against batch size.
func LambdaVsB(points []Point) *Figure { return MeasureVsB(points, MetricLambdaMax) }

// MeasureVsB draws the seed-mean of a flatness measure of every grid point
// against its batch size B on a log x axis, one colour and line per
// learning rate ε (points in order of B), with 95 % Student-t error bars
// where a grid point has at least two seeds. The y axis is logarithmic too
// when every mean is positive (λ₁, a trace); otherwise linear. For λ₁ the
// edge-of-stability limit 2/ε is not drawn: λ₁ is measured at the end of
// training. Trials that did not succeed are counted in the note; so are
// grid points without a batch size (or, on a log axis, a positive mean).
func MeasureVsB(points []Point, measure string) *Figure {
	logY := true
	for _, g := range Aggregate(okPoints(points)) {
		if s := g.Metric(measure); s.Count > 0 && !(s.Mean > 0) {
			logY = false
		}
	}
	skip := "grid points without a batch size not shown"
	if logY {
		skip = "grid points without a batch size or a positive value not shown"
	}
	return lrFigure{
		title: metricShort(measure) + " vs batch size", metric: measure, xLabel: "batch size B (examples, log scale)", logY: logY,
		skip: skip, needs: "a finite " + measure,
		xOf: func(g Group, s Summary) (float64, bool) {
			b, ok := g.Axes[AxisB]
			return b, ok && b > 0 && (!logY || s.Mean > 0)
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
// varies (named in the note). The colour map is viridis, sequential (none of
// these quantities has a midpoint a diverging map would mark); a metric whose
// finite values are positive and span two decades or more (typically λ₁) is
// coloured by log₁₀ of its value, and the colour bar says so. Cells without a
// finite value are grey; up to 12×12 cells are labelled with their value, in
// black or white by the cell's luminance. In every row the cell of best mean
// test accuracy — B_opt on the grid at that ε — is outlined.
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
	type cell struct{ b, lr, v, acc float64 }
	var cells []cell
	for _, g := range Aggregate(points, over...) {
		b, okB := g.Axes[AxisB]
		lr, okLR := g.Axes[AxisLR]
		s := g.Metric(metric)
		if !okB || !okLR || s.Count == 0 {
			continue
		}
		cells = append(cells, cell{b, lr, s.Mean, g.Metric(MetricTestAcc).Mean})
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
	best := make([]int, len(lrs)) // column of best test accuracy per row, −1 if none
	bestAcc := make([]float64, len(lrs))
	for r := range z {
		z[r] = make([]float64, len(bs))
		for c := range z[r] {
			z[r][c] = math.NaN()
		}
		best[r], bestAcc[r] = -1, math.Inf(-1)
	}
	var vals []float64
	for _, c := range cells {
		r, col := slices.Index(lrs, c.lr), slices.Index(bs, c.b)
		z[r][col] = c.v
		vals = append(vals, c.v)
		if finite(c.acc) && (c.acc > bestAcc[r] || (c.acc == bestAcc[r] && col < best[r])) {
			best[r], bestAcc[r] = col, c.acc
		}
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
	lo, hi = widened(lo, hi)
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
	marked := ""
	if len(bs) > 1 && slices.ContainsFunc(best, func(c int) bool { return c >= 0 }) {
		marked = "outlined: best test accuracy at each ε"
	}
	note := joinNotes(missing, varied, countsNote(counts))

	cmap := newViridis(lo, hi)
	h := plotter.NewHeatMap(colour, cmap.Palette(255))
	h.Min, h.Max = lo, hi
	h.NaN = color.Gray{Y: 200}
	p := plot.New()
	p.Title.Text = titled(title, joinNotes(marked, note))
	p.Add(h)
	p.X.Label.Text = "batch size B (examples)"
	p.Y.Label.Text = "learning rate ε"
	p.X.Tick.Marker = categoricalTicks(bs)
	p.Y.Tick.Marker = categoricalTicks(lrs)
	if marked != "" {
		for r, c := range best {
			if c < 0 {
				continue
			}
			x, y := float64(c), float64(r)
			box := plotter.XYs{{X: x - 0.46, Y: y - 0.46}, {X: x + 0.46, Y: y - 0.46}, {X: x + 0.46, Y: y + 0.46}, {X: x - 0.46, Y: y + 0.46}, {X: x - 0.46, Y: y - 0.46}}
			for _, st := range []struct {
				c color.Color
				w vg.Length
			}{{color.White, 4}, {color.Black, 2}} {
				if l, err := plotter.NewLine(box); err == nil {
					l.Color, l.Width = st.c, st.w
					p.Add(l)
				}
			}
		}
	}
	if len(bs)*len(lrs) <= 144 {
		var xys plotter.XYs
		var labels []string
		var styles []text.Style
		for r := range lrs {
			for c := range bs {
				if v := grid.Z(c, r); finite(v) {
					xys = append(xys, plotter.XY{X: float64(c), Y: float64(r)})
					labels = append(labels, fmt.Sprintf("%.3g", v))
					st := textStyle(10)
					if bg, err := cmap.At(min(max(colour.Z(c, r), lo), hi)); err == nil {
						st.Color = labelColor(bg)
					}
					styles = append(styles, st)
				}
			}
		}
		if l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels}); err == nil {
			copy(l.TextStyle, styles)
			p.Add(l)
		}
	}

	bar := colourBar(cmap, barLabel)
	bar.Title.Text = titled(" ", strings.Repeat("\n", strings.Count(p.Title.Text, "\n")))
	f := &Figure{Title: title, Note: note, Width: figWidth + barWidth, Height: figHeight}
	f.draw = withColourBar(p, bar, 0)
	return f
}

// widened returns lo, hi, or around a single value (lo == hi) a range
// wide enough for a palette and a colour bar.
func widened(lo, hi float64) (float64, float64) {
	if lo == hi {
		d := max(math.Abs(lo)*1e-3, 1e-9)
		return lo - d, hi + d
	}
	return lo, hi
}

// barWidth is the strip a colour bar takes at the right of a figure
// (withColourBar).
const barWidth = 3.2 * vg.Centimeter

// colourBar is a vertical colour bar of cmap, its axis labelled label.
func colourBar(cmap *viridis, label string) *plot.Plot {
	bar := plot.New()
	bar.Add(&plotter.ColorBar{ColorMap: cmap, Vertical: true})
	bar.HideX()
	bar.Y.Padding = 0
	bar.Y.Label.Text = label
	return bar
}

// withColourBar draws p with bar in a strip of width barWidth at its right,
// the bar shortened to roughly p's data area (p's x axis below it, and top
// more off its top).
func withColourBar(p, bar *plot.Plot, top vg.Length) func(draw.Canvas) {
	return func(c draw.Canvas) {
		p.Draw(draw.Crop(c, 0, -barWidth, 0, 0))
		bc := draw.Crop(c, c.Max.X-c.Min.X-barWidth+vg.Millimeter, 0, 0, 0)
		bar.Draw(draw.Crop(bc, 0, -4*vg.Millimeter, 1.5*vg.Centimeter, -top))
	}
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

// batchLR keys a scatter series: a batch size B and a learning rate ε
// (NaN where the point has none).
type batchLR struct{ b, lr float64 }

// seriesByBatch collects (x, y) = (metric mx, metric my) over the StatusOK
// points with both finite, split by batch size B and learning rate ε, and
// returns all the xs and ys too.
func seriesByBatch(points []Point, mx, my string) (series map[batchLR]plotter.XYs, xs, ys []float64) {
	series = map[batchLR]plotter.XYs{}
	for _, q := range okPoints(points) {
		x, y := q.Metric(mx), q.Metric(my)
		if !finite(x) || !finite(y) {
			continue
		}
		k := batchLR{math.NaN(), math.NaN()}
		if b, ok := q.Axes[AxisB]; ok {
			k.b = b
		}
		if lr, ok := q.Axes[AxisLR]; ok {
			k.lr = lr
		}
		series[k] = append(series[k], plotter.XY{X: x, Y: y})
		xs, ys = append(xs, x), append(ys, y)
	}
	return series, xs, ys
}

// addBatchScatters draws one scatter per (B, ε): its colour says the batch
// size (one Okabe–Ito colour per B, in increasing B) and its glyph the
// learning rate, so that neither effect hides in the other; the legend has
// an entry "B = …" per batch size and, with two or more ε, "ε = …" per
// learning rate (in grey).
func addBatchScatters(p *plot.Plot, leg *plot.Legend, series map[batchLR]plotter.XYs) {
	var bs, lrs []float64
	for k := range series {
		if !slices.Contains(bs, k.b) {
			bs = append(bs, k.b)
		}
		if !slices.Contains(lrs, k.lr) {
			lrs = append(lrs, k.lr)
		}
	}
	slices.Sort(bs)
	slices.Sort(lrs)
	keys := slices.Collect(maps.Keys(series))
	slices.SortFunc(keys, func(a, b batchLR) int { return cmp.Or(cmp.Compare(a.b, b.b), cmp.Compare(a.lr, b.lr)) })
	for _, k := range keys {
		sc, err := plotter.NewScatter(series[k])
		if err != nil {
			continue
		}
		sc.Color, sc.Shape = seriesColor(slices.Index(bs, k.b)), seriesShape(slices.Index(lrs, k.lr))
		sc.Radius = vg.Points(3)
		p.Add(sc)
	}
	for i, b := range bs {
		th := draw.GlyphStyle{Color: seriesColor(i), Shape: draw.CircleGlyph{}, Radius: vg.Points(3)}
		leg.Add(fmt.Sprintf("B = %g", b), glyphThumb(th))
	}
	if len(lrs) > 1 {
		for j, lr := range lrs {
			th := draw.GlyphStyle{Color: color.Gray{Y: 90}, Shape: seriesShape(j), Radius: vg.Points(3)}
			leg.Add(fmt.Sprintf("ε = %g", lr), glyphThumb(th))
		}
	}
}

// glyphThumb is a legend thumbnail drawing one glyph.
type glyphThumb draw.GlyphStyle

// Thumbnail implements plot.Thumbnailer.
func (g glyphThumb) Thumbnail(c *draw.Canvas) {
	c.DrawGlyph(draw.GlyphStyle(g), c.Center())
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
	switch {
	case err != nil:
		tauNote = fmt.Sprintf("Kendall τ-b undefined over %d trials", n)
	case n < MinRankTrials:
		tauNote = fmt.Sprintf("Kendall τ-b: not enough data (%d trials, want %d)", n, MinRankTrials)
	default:
		if iv := tauInterval(xs, ys); iv.Finite() {
			tauNote += fmt.Sprintf(", 95%% CI [%.2f, %.2f]", iv.Lo, iv.Hi)
		}
	}
	note := countsNote(counts)
	p := plot.New()
	p.Title.Text = titledLines(title, tauNote, note)
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
	l.Color = seriesColor(0)
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

// Curve is one training curve: a metric per epoch of one grid point, the
// mean over its seeds with a 95 % band, or of one trial.
type Curve struct {
	// Label names the grid point (or trial) in the legend.
	Label string
	// Epochs and Values are the x and y values (the seed mean); non-finite
	// pairs are skipped.
	Epochs, Values []float64
	// Lo and Hi bound the 95 % Student-t interval of the mean at each epoch
	// (clipped to [0, 1] for an accuracy; NaN with one seed); nil for a
	// single trial.
	Lo, Hi []float64
	// Seeds is the number of trials averaged (0 or 1 for a single trial).
	Seeds int
	// Diverged marks the curve of a trial whose loss diverged: drawn dashed.
	Diverged bool
}

// CurvesFromPoints returns the per-epoch curve of metric (MetricTestAcc,
// MetricTrainAcc, MetricTestLoss or MetricTrainLoss) of every grid point
// with a recorded curve: the mean over its successful seeds at each epoch
// (the epochs every such seed reached) with the 95 % Student-t band,
// labelled by the axes that vary among the grid points, e.g. "B=32, ε=0.1"
// (with "(3 seeds)" when grid points differ in their number of seeds). A
// grid point none of whose trials succeeded shows the curve of its
// diverged trial of lowest seed, dashed and marked, so that it stays
// visible; its other trials that did not succeed are left out (the report
// counts them).
func CurvesFromPoints(points []Point, metric string) []Curve {
	var groups [][]Point
	var reps []Point
	for _, g := range Aggregate(points) {
		var ok, div []Point
		for _, p := range g.Points {
			switch {
			case len(p.Curve) == 0:
			case p.Status == StatusOK:
				ok = append(ok, p)
			case p.Status == StatusDiverged:
				div = append(div, p)
			}
		}
		switch {
		case len(ok) > 0:
			groups, reps = append(groups, ok), append(reps, ok[0])
		case len(div) > 0:
			slices.SortFunc(div, func(a, b Point) int { return cmp.Compare(a.Axes[AxisSeed], b.Axes[AxisSeed]) })
			groups, reps = append(groups, div[:1]), append(reps, div[0])
		}
	}
	labels := gridLabels(reps)
	sameSeeds := true // every averaged curve has as many seeds: the title says how many
	for _, g := range groups {
		if g[0].Status == StatusOK && len(g) != len(groups[0]) {
			sameSeeds = false
		}
	}
	out := make([]Curve, 0, len(groups))
	for i, g := range groups {
		c := Curve{Label: labels[i], Seeds: len(g), Diverged: g[0].Status == StatusDiverged}
		if c.Diverged {
			c.Label += " (diverged)"
			for _, e := range g[0].Curve {
				c.Epochs = append(c.Epochs, float64(e.Epoch))
				c.Values = append(c.Values, epochMetric(e, metric))
			}
			out = append(out, c)
			continue
		}
		if len(g) > 1 && !sameSeeds {
			c.Label += fmt.Sprintf(" (%d seeds)", len(g))
		}
		epochs := len(g[0].Curve)
		for _, p := range g {
			epochs = min(epochs, len(p.Curve))
		}
		for e := range epochs {
			vals := make([]float64, len(g))
			for k, p := range g {
				vals[k] = epochMetric(p.Curve[e], metric)
			}
			s := Describe(vals)
			lo, hi := s.Lo, s.Hi
			if isAccuracy(metric) && finite(lo) {
				lo, hi = max(lo, 0), min(hi, 1)
			}
			c.Epochs = append(c.Epochs, float64(g[0].Curve[e].Epoch))
			c.Values, c.Lo, c.Hi = append(c.Values, s.Mean), append(c.Lo, lo), append(c.Hi, hi)
		}
		out = append(out, c)
	}
	return out
}

// gridLabels labels each point by the axes other than the seed that vary
// among the points, in their usual symbols ("B=32, ε=0.1"), or "all trials"
// when none varies.
func gridLabels(points []Point) []string {
	axes := varyingAxes(points)
	out := make([]string, len(points))
	for i, p := range points {
		out[i] = axesLabel(p, axes)
		if out[i] == "" {
			out[i] = "all trials"
		}
	}
	return out
}

// axesLabel joins p's values of axes, in their symbols ("B=32, ε=0.1"),
// skipping the axes p has no value for.
func axesLabel(p Point, axes []string) string {
	var parts []string
	for _, a := range axes {
		if v, ok := p.Axes[a]; ok {
			parts = append(parts, axisSymbol(a)+"="+axisLabels([]Point{p}).Label(a, v))
		}
	}
	return strings.Join(parts, ", ")
}

// curveLabels labels each point by the axes that vary among the points (the
// seed included), in their symbols (axisSymbol), e.g. "B=32, ε=0.1,
// seed=2", or by its ID when none varies.
func curveLabels(points []Point) []string {
	axes := varyingAxes(points)
	if seeds := Aggregate(points, AxisSeed); len(seeds) < len(points) {
		axes = append(axes, AxisSeed)
	}
	out := make([]string, len(points))
	for i, p := range points {
		out[i] = axesLabel(p, axes)
		if out[i] == "" {
			out[i] = p.ID
		}
	}
	return out
}

// axisSymbol returns the usual symbol of an axis in a legend: B, ε, N, m,
// λ (weight decay), or the axis name.
func axisSymbol(a string) string {
	switch a {
	case AxisB:
		return "B"
	case AxisLR:
		return "ε"
	case AxisN:
		return "N"
	case AxisMomentum:
		return "m"
	case AxisWeightDecay:
		return "λ"
	}
	return a
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

// TrainingCurves draws each curve against the epoch, one colour per curve
// (Okabe–Ito colours, then dash patterns), with its 95 % band over seeds
// where it has one, diverged curves dashed, with the metric's label
// (MetricTestAcc when metric is empty) on the y axis (clipped to [0, 1] for
// an accuracy). Non-finite values are left out (a diverged curve ends at
// its last finite epoch) and curves with no finite value are named in the
// note.
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
	var all []float64
	drawn, banded := 0, 0
	for i, c := range curves {
		var xys plotter.XYs
		for j := range min(len(c.Epochs), len(c.Values)) {
			if finite(c.Epochs[j]) && finite(c.Values[j]) {
				xys = append(xys, plotter.XY{X: c.Epochs[j], Y: c.Values[j]})
				all = append(all, c.Values[j])
			}
		}
		if len(xys) == 0 {
			empty = append(empty, c.Label)
			continue
		}
		if len(c.Lo) == len(c.Epochs) && len(c.Hi) == len(c.Epochs) {
			addBand(p, i, c.Epochs, c.Lo, c.Hi)
			for j := range c.Lo {
				if finite(c.Lo[j]) && finite(c.Hi[j]) {
					all = append(all, c.Lo[j], c.Hi[j])
					banded++
				}
			}
		}
		leg.Add(c.Label, addSeries(p, i, xys, nil, c.Diverged)...)
		drawn++
	}
	var notes []string
	if len(empty) > 0 {
		notes = append(notes, fmt.Sprintf("%d curves without finite values: %s", len(empty), strings.Join(empty, "; ")))
	}
	if drawn == 0 {
		return emptyFigure(title, joinNotes(append([]string{"no training curves"}, notes...)...))
	}
	if isAccuracy(metric) {
		lo, hi := minMax(all)
		clipAccuracyAxis(&p.Y, lo, hi)
	}
	note := joinNotes(notes...)
	band := ""
	if banded > 0 {
		band = "mean over seeds, band: 95 % interval"
		seeds := 0
		for _, c := range curves {
			if !c.Diverged && c.Seeds > 1 {
				if seeds == 0 {
					seeds = c.Seeds
				} else if seeds != c.Seeds {
					seeds = -1
				}
			}
		}
		if seeds > 1 {
			band = fmt.Sprintf("mean over %d seeds, band: 95 %% interval", seeds)
		}
	}
	p.Title.Text = titled(title, joinNotes(band, note))
	f := legendFigure(p, &leg, title)
	f.Note = note
	return f
}

// PlotTrainingCurves draws TrainingCurves and saves it to stem.png and
// stem.svg.
func PlotTrainingCurves(curves []Curve, metric, stem string) (*Figure, error) {
	return saved(TrainingCurves(curves, metric), stem)
}
