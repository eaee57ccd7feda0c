package analysis

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// Density is a Hessian spectral density of one trial, as drawn by
// SpectralDensity: the density at each eigenvalue of a grid.
type Density struct {
	// Label names the trial (e.g. "batch_size=32, lr=0.1, seed=1").
	Label string
	// Eigenvalues is the grid of eigenvalues λ; Values the density at each.
	Eigenvalues, Values []float64
}

// ReportOptions configure BuildReport.
type ReportOptions struct {
	// Sweep names the sweep in the title.
	Sweep string
	// Densities are Hessian spectral densities to draw (the first
	// MaxDensities of them); when there are none the report says that none
	// were computed.
	Densities []Density
	// MaxCurves bounds the trials drawn in the training-curve figures (one
	// seed per grid point, grid points evenly spaced); 0 means 8.
	MaxCurves int
	// MaxDensities bounds the spectral densities drawn; 0 means 3.
	MaxDensities int
	// MaxLandscapes bounds the trials whose loss landscapes are drawn (the
	// lowest seed of each grid point, grid points evenly spaced); 0 means 8.
	MaxLandscapes int
}

// ReportFigure is a figure of a report, rendered.
type ReportFigure struct {
	// Name is the file stem: the figure is saved as Name.png and Name.svg.
	Name string
	// Title is the figure's title; Caption says what it shows.
	Title, Caption string
	// Note repeats what the figure says is missing or left out ("" if none).
	Note string
	// PNG and SVG are the rendered images (nil when rendering failed).
	PNG, SVG []byte
	// Err is the rendering error, if any ("" when fine).
	Err string
}

// Report is the analysis of a sweep with its figures, ready to be written as
// one self-contained HTML file (figures embedded as PNG data: URIs), as
// Markdown (referring to the figure files) and as separate PNG and SVG
// files. A degenerate sweep still gives a report that says what is missing.
type Report struct {
	// Analysis holds the numbers.
	Analysis SweepAnalysis
	// Figures are the rendered figures, in report order.
	Figures []ReportFigure
	// Remarks are sentences about figures that could not be drawn at all
	// (e.g. no spectral densities were computed).
	Remarks []string
}

// BuildReport analyses points (Analyze) and draws the report's figures: test
// accuracy against g coloured by ε (against B where g does not apply); heat
// maps of test accuracy and of λ₁ over B × ε with B_opt outlined; B_opt
// against ε, N and 1/(1 − m) with the fitted line (BOptVs); each flatness
// measure against B and against the gap; each measure of Dinh's
// check before against after α-scaling (DinhScatter); the spectral densities
// given; training curves of test accuracy and of training loss. Figures are
// rendered in memory; a figure that fails to render is kept with its error.
func BuildReport(points []Point, opts ReportOptions) *Report {
	if opts.MaxCurves <= 0 {
		opts.MaxCurves = 8
	}
	if opts.MaxDensities <= 0 {
		opts.MaxDensities = 3
	}
	if opts.MaxLandscapes <= 0 {
		opts.MaxLandscapes = 8
	}
	r := &Report{Analysis: Analyze(opts.Sweep, points)}
	used := map[string]bool{}
	add := func(name, caption string, f *Figure) {
		r.Figures = append(r.Figures, renderFigure(uniqueStem(name, used), caption, f))
	}
	ok := okPoints(points)
	if len(ok) > 0 && allNoG(ok) {
		r.Remarks = append(r.Remarks, "The noise scale g describes SGD and does not apply to these trials (Adam or a batch-size schedule): test accuracy is drawn against B instead of g.")
		add("acc_vs_b", "Seed-mean test accuracy of every grid point against its batch size B (log axis), one colour per learning rate ε, with the 95 % interval as a band (seeds and the test set's binomial error, clipped to [0, 1]).", AccVsB(points))
	} else {
		add("acc_vs_g", "Seed-mean test accuracy of every grid point against the SGD noise scale g = ε(N/B − 1)/(1 − m) (log axis), one colour per learning rate ε, with the 95 % interval as a band (seeds and the test set's binomial error, clipped to [0, 1]). Smith & Le predict a peak at an intermediate g and a collapse of the curves.", AccVsG(points))
	}
	add("heatmap_test_acc", "Mean test accuracy over batch size B × learning rate ε (viridis); the outlined cell of each row is the grid's best B at that ε.", HeatMap(points, MetricTestAcc))
	add("heatmap_lambda_max", "Mean top Hessian eigenvalue λ₁ over B × ε (viridis; Yao et al.: λ₁ rises with B); outlined: the B of best test accuracy at each ε.", HeatMap(points, MetricLambdaMax))
	for _, axis := range fitAxesDrawn(r.Analysis) {
		add("bopt_vs_"+axis, "Optimal batch size B_opt of test accuracy against "+axis+" (log–log), one colour per setting of the other axes: filled interior optima, hollow ones at the edge of the batch-size grid (left out of the fit); the fitted line with its 95 % confidence band and, dashed, the slope 1 Smith & Le predict.", BOptVs(r.Analysis, axis))
	}
	add("lambda_vs_b", "Seed-mean λ₁ of every grid point against its batch size B (log axes), one colour per learning rate ε, with 95 % intervals over seeds (Keskar et al., Yao et al.: λ₁ rises with B at a fixed budget of epochs).", LambdaVsB(points))
	measures := FlatnessMeasures(ok)
	for _, m := range measures {
		if m != MetricLambdaMax {
			add("measure_"+m+"_vs_b", "Seed-mean "+m+" of every grid point against its batch size B (log x axis; log y when every mean is positive), one colour per learning rate ε, with 95 % intervals over seeds.", MeasureVsB(points, m))
		}
	}
	for _, m := range measures {
		add("measure_"+m+"_vs_gap", "Flatness measure "+m+" of every successful trial against its generalization gap: colour by batch size B, glyph by learning rate ε, with Kendall's τ-b and its bootstrap interval.", MeasureVsGap(points, m))
	}
	if len(measures) == 0 {
		r.Remarks = append(r.Remarks, "No flatness measure was recorded, so there is no measure-against-gap figure.")
	}
	for _, dm := range r.Analysis.Dinh.Measures {
		add("dinh_"+dm.Measure, "Dinh's check: "+dm.Measure+" of every successful trial at the trained θ (x) and at the α-scaled T_α θ (y), which computes the same function; a reparametrization-aware measure lies on the dashed line y = x.", DinhScatter(points, dm.Measure))
	}
	dens := opts.Densities
	if len(dens) == 0 {
		r.Remarks = append(r.Remarks, "No Hessian spectral densities were computed for this sweep, so there is no spectral-density figure.")
	}
	for i, d := range dens[:min(len(dens), opts.MaxDensities)] {
		f, err := SpectralDensity(d.Eigenvalues, d.Values)
		if err != nil {
			r.Figures = append(r.Figures, ReportFigure{Name: uniqueStem(fmt.Sprintf("density_%d", i+1), used), Title: "Hessian spectral density", Err: err.Error()})
			continue
		}
		f.Title += ": " + d.Label
		add(fmt.Sprintf("density_%d", i+1), "Hessian spectral density (stochastic Lanczos quadrature) of "+d.Label+".", f)
	}
	if n := len(dens); n > opts.MaxDensities {
		r.Remarks = append(r.Remarks, fmt.Sprintf("%d of %d spectral densities are drawn.", opts.MaxDensities, n))
	}
	sel, note := SelectCurvePoints(points, opts.MaxCurves)
	caption := "Per-epoch curves of a few grid points: the mean over successful seeds with its 95 % band (a grid point whose trials all diverged shows one diverged trial, dashed). " + note
	if left := countsNote(r.Analysis.Counts); left != "" {
		caption += " Of the sweep, " + left + "."
	}
	add("curves_test_acc", caption, TrainingCurves(CurvesFromPoints(sel, MetricTestAcc), MetricTestAcc))
	add("curves_train_loss", caption, TrainingCurves(CurvesFromPoints(sel, MetricTrainLoss), MetricTrainLoss))
	withLandscape, landNote := selectPoints(points, opts.MaxLandscapes, "a loss landscape", func(p Point) bool { return p.Landscape != nil && p.Status == StatusOK })
	labels := curveLabels(withLandscape)
	for i, p := range withLandscape {
		l := *p.Landscape
		what := fmt.Sprintf("%s landscape of %s (%d training and %d test examples, %d grid points evaluated)", l.Kind, labels[i], l.Examples, l.TestExamples, l.Evaluations)
		add(fmt.Sprintf("landscape_%d_loss", i+1), "Loss along the first direction of the "+what+": θ + a·d₁ with d₁ a filter-normalized random direction (Li et al. 2018), a = 0 being the trained θ.", LandscapeCurves(l, "loss"))
		if len(l.B) > 0 {
			add(fmt.Sprintf("landscape_%d_contour", i+1), "Training loss over the plane θ + a·d₁ + b·d₂ of the "+what+".", LandscapeContour(l, "train"))
		}
	}
	if len(withLandscape) > 0 {
		r.Remarks = append(r.Remarks, "Loss landscapes: "+landNote)
	}
	if f, note := SharpnessOf(points, opts.MaxCurves); f != nil {
		add("sharpness", "Top Hessian eigenvalue λ₁ along training (curvature.track), with each trial's stability limit dashed: 2/ε for SGD, (2 + 2β)/ε with momentum β. Under full-batch gradient descent λ₁ rises to the limit and hovers there (the edge of stability, Cohen et al. 2021); with SGD it levels off below it. "+note, f)
	}
	return r
}

// DinhScatter scatters a measure m at the trained θ (x) against its value at
// Dinh's α-scaled T_α θ (y, metric m + DinhSuffix) over the StatusOK trials
// with both finite, one colour per batch size B, with the line y = x on which
// a reparametrization-aware measure lies, and gives Kendall's τ-b between the
// two and the largest relative change |after − before|/|before| in the title. Both axes are
// logarithmic when every value is positive and they span two decades or
// more together.
func DinhScatter(points []Point, measure string) *Figure {
	title := metricShort(measure) + " before vs after α-scaling"
	counts := CountPoints(points)
	series, xs, ys := seriesByBatch(points, measure, measure+DinhSuffix)
	if len(xs) == 0 {
		return emptyFigure(title, noDataNote(counts, "finite "+measure+" and "+measure+DinhSuffix))
	}
	dm := dinhMeasure(measure, xs, ys)
	stat := fmt.Sprintf("τ-b = %.3f, max rel. change %s (%d trials)", dm.Tau, num(dm.MaxRelChange), dm.N)
	if !finite(dm.Tau) {
		stat = fmt.Sprintf("τ-b undefined, max rel. change %s (%d trials)", num(dm.MaxRelChange), dm.N)
	}
	note := countsNote(counts)
	p := plot.New()
	p.Title.Text = titled(title, joinNotes(stat, note))
	p.X.Label.Text = metricShort(measure) + " at θ"
	p.Y.Label.Text = metricShort(measure) + " at T_α θ"
	lo, hi := minMax(append(slices.Clone(xs), ys...))
	logXY := useLog(lo, hi)
	tr := func(v float64) float64 { return v }
	if logXY {
		tr = math.Log10
		p.X.Label.Text += ", log scale"
		p.Y.Label.Text += ", log scale"
	}
	if l, err := plotter.NewLine(plotter.XYs{{X: tr(lo), Y: tr(lo)}, {X: tr(hi), Y: tr(hi)}}); err == nil {
		l.Color = color.Gray{Y: 128}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
	}
	for _, xys := range series {
		for k := range xys {
			xys[k].X, xys[k].Y = tr(xys[k].X), tr(xys[k].Y)
		}
	}
	leg := plot.NewLegend()
	addBatchScatters(p, &leg, series)
	if logXY {
		logAxis(&p.X, lo, hi)
		logAxis(&p.Y, lo, hi)
	}
	f := legendFigure(p, &leg, title)
	f.Note = note
	return f
}

// renderFigure renders f as PNG and SVG.
func renderFigure(name, caption string, f *Figure) ReportFigure {
	rf := ReportFigure{Name: name, Title: f.Title, Caption: caption, Note: f.Note}
	var png, svg bytes.Buffer
	if err := f.Write(&png, "png"); err != nil {
		rf.Err = err.Error()
		return rf
	}
	if err := f.Write(&svg, "svg"); err != nil {
		rf.Err = err.Error()
		return rf
	}
	rf.PNG, rf.SVG = png.Bytes(), svg.Bytes()
	return rf
}

// uniqueStem returns a file-name-safe version of name not yet in used.
func uniqueStem(name string, used map[string]bool) string {
	stem := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			return r
		}
		return '_'
	}, name)
	out := stem
	for i := 2; used[out]; i++ {
		out = fmt.Sprintf("%s_%d", stem, i)
	}
	used[out] = true
	return out
}

// SelectCurvePoints returns the trials (every seed) of up to max grid
// points with a recorded curve, grid points evenly spaced, and a sentence
// saying what was selected; CurvesFromPoints averages them over seeds.
func SelectCurvePoints(points []Point, max int) ([]Point, string) {
	var with [][]Point
	total := 0
	for _, g := range Aggregate(points) {
		var c []Point
		for _, p := range g.Points {
			if len(p.Curve) > 0 {
				c = append(c, p)
			}
		}
		if len(c) > 0 {
			with = append(with, c)
			total += len(c)
		}
	}
	if len(with) <= max {
		return slices.Concat(with...), fmt.Sprintf("Shown: all %d grid points with a recorded curve (%d trials), each as the mean over its successful seeds with a 95 %% band.", len(with), total)
	}
	var sel []Point
	for i := range max {
		sel = append(sel, with[i*(len(with)-1)/(max-1)]...)
	}
	return sel, fmt.Sprintf("Shown: %d evenly spaced of %d grid points with a recorded curve, each as the mean over its successful seeds with a 95 %% band.", max, len(with))
}

// selectPoints is SelectCurvePoints for the points that have what has
// reports (described as what in the note).
func selectPoints(points []Point, max int, what string, has func(Point) bool) ([]Point, string) {
	var firsts []Point
	total := 0
	for _, g := range Aggregate(points) {
		var best *Point
		for i, p := range g.Points {
			if !has(p) {
				continue
			}
			total++
			if best == nil || p.Axes[AxisSeed] < best.Axes[AxisSeed] {
				best = &g.Points[i]
			}
		}
		if best != nil {
			firsts = append(firsts, *best)
		}
	}
	if len(firsts) <= max {
		return firsts, fmt.Sprintf("Shown: %d of %d trials with %s (the lowest seed of each grid point).", len(firsts), total, what)
	}
	sel := make([]Point, 0, max)
	for i := range max {
		sel = append(sel, firsts[i*(len(firsts)-1)/(max-1)])
	}
	return sel, fmt.Sprintf("Shown: %d of %d trials with %s (the lowest seed of %d evenly spaced grid points out of %d).", len(sel), total, what, max, len(firsts))
}

// Save writes the report to dir (created if needed): every figure as
// <name>.png and <name>.svg, report.html (self-contained: the figures are
// embedded) and report.md (referring to the PNG files next to it). It
// returns the paths written.
func (r *Report) Save(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var paths []string
	write := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		paths = append(paths, p)
		return nil
	}
	for _, f := range r.Figures {
		if f.Err != "" {
			continue
		}
		if err := errors.Join(write(f.Name+".png", f.PNG), write(f.Name+".svg", f.SVG)); err != nil {
			return paths, err
		}
	}
	var html, md bytes.Buffer
	if err := r.WriteHTML(&html); err != nil {
		return paths, err
	}
	if err := r.WriteMarkdown(&md); err != nil {
		return paths, err
	}
	if err := errors.Join(write("report.html", html.Bytes()), write("report.md", md.Bytes())); err != nil {
		return paths, err
	}
	return paths, nil
}

// reportSections returns the tables in report order: the summary tables,
// then (after the figures) the long grid-point table.
func (r *Report) reportSections() (before, after []table) {
	for _, t := range r.Analysis.tables() {
		if t.id == "grid" {
			after = append(after, t)
		} else {
			before = append(before, t)
		}
	}
	return before, after
}

// htmlFigure is a figure as the HTML template uses it.
type htmlFigure struct {
	ReportFigure
	Src template.URL
}

// htmlData is the data of the HTML template.
type htmlData struct {
	Title         string
	Counts        string
	Notes         []string
	Before, After []htmlTable
	Figures       []htmlFigure
	Remarks       []string
}

// htmlTable is a table as the HTML template uses it.
type htmlTable struct {
	ID, Title, Intro string
	Head             []string
	Rows             [][]string
	Notes            []string
}

func toHTMLTables(ts []table) []htmlTable {
	out := make([]htmlTable, len(ts))
	for i, t := range ts {
		out[i] = htmlTable{t.id, t.title, t.intro, t.head, t.rows, t.notes}
	}
	return out
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1.5rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9rem; color: #444; }
.note { color: #8a4b00; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Counts}}</p>
{{if .Notes}}<ul class="notes">{{range .Notes}}<li class="note">{{.}}</li>{{end}}</ul>{{end}}
{{define "table"}}<section id="{{.ID}}">
<h2>{{.Title}}</h2>
{{if .Intro}}<p>{{.Intro}}</p>{{end}}
{{if .Rows}}<table>
<thead><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody>
</table>{{end}}
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
</section>
{{end}}{{range .Before}}{{template "table" .}}{{end}}
<section id="figures">
<h2>Figures</h2>
{{range .Remarks}}<p class="note">{{.}}</p>{{end}}
{{range .Figures}}<figure id="fig-{{.Name}}">
{{if .Err}}<p class="note">Figure “{{.Title}}” could not be drawn: {{.Err}}</p>{{else}}<img src="{{.Src}}" alt="{{.Title}}">{{end}}
<figcaption>{{.Caption}}{{if .Note}} <span class="note">{{.Note}}.</span>{{end}}{{if not .Err}} Files: <a href="{{.Name}}.svg">{{.Name}}.svg</a>, <a href="{{.Name}}.png">{{.Name}}.png</a>.{{end}}</figcaption>
</figure>
{{end}}</section>
{{range .After}}{{template "table" .}}{{end}}
</body>
</html>
`))

// title returns the report title.
func (r *Report) title() string {
	if r.Analysis.Sweep == "" {
		return "flatsweep report"
	}
	return "flatsweep report: sweep " + r.Analysis.Sweep
}

// WriteHTML writes the report as one self-contained HTML page: the tables,
// the notes, and every figure embedded as a PNG data: URI (links to the SVG
// and PNG files saved next to it by Save).
func (r *Report) WriteHTML(w io.Writer) error {
	before, after := r.reportSections()
	d := htmlData{Title: r.title(), Counts: r.Analysis.Counts.String() + ".", Notes: r.Analysis.Notes,
		Before: toHTMLTables(before), After: toHTMLTables(after), Remarks: r.Remarks}
	for _, f := range r.Figures {
		d.Figures = append(d.Figures, htmlFigure{ReportFigure: f,
			Src: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(f.PNG))})
	}
	if err := reportTemplate.Execute(w, d); err != nil {
		return fmt.Errorf("report html: %w", err)
	}
	return nil
}

// WriteMarkdown writes the report as Markdown: the same notes and tables,
// and each figure as an image link to <name>.png (with a link to the SVG),
// so the file is read next to the figures written by Save.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n%s.\n\n", r.title(), r.Analysis.Counts)
	for _, n := range r.Analysis.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if len(r.Analysis.Notes) > 0 {
		b.WriteString("\n")
	}
	before, after := r.reportSections()
	for _, t := range before {
		writeMarkdownTable(&b, t)
	}
	b.WriteString("## Figures\n\n")
	for _, rm := range r.Remarks {
		fmt.Fprintf(&b, "%s\n\n", rm)
	}
	for _, f := range r.Figures {
		if f.Err != "" {
			fmt.Fprintf(&b, "Figure “%s” could not be drawn: %s\n\n", f.Title, f.Err)
			continue
		}
		fmt.Fprintf(&b, "![%s](%s.png)\n\n%s", mdEscape(f.Title), f.Name, f.Caption)
		if f.Note != "" {
			fmt.Fprintf(&b, " *%s.*", f.Note)
		}
		fmt.Fprintf(&b, " ([SVG](%s.svg))\n\n", f.Name)
	}
	for _, t := range after {
		writeMarkdownTable(&b, t)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report markdown: %w", err)
	}
	return nil
}

func writeMarkdownTable(b *strings.Builder, t table) {
	fmt.Fprintf(b, "## %s\n\n", t.title)
	if t.intro != "" {
		fmt.Fprintf(b, "%s\n\n", t.intro)
	}
	if len(t.rows) > 0 {
		cells := func(row []string) string {
			esc := make([]string, len(row))
			for i, c := range row {
				esc[i] = mdEscape(c)
			}
			return "| " + strings.Join(esc, " | ") + " |\n"
		}
		b.WriteString(cells(t.head))
		b.WriteString("|" + strings.Repeat(" --- |", len(t.head)) + "\n")
		for _, row := range t.rows {
			b.WriteString(cells(row))
		}
		b.WriteString("\n")
	}
	for _, n := range t.notes {
		fmt.Fprintf(b, "%s\n\n", n)
	}
}

// mdEscape escapes the characters that would break a Markdown table cell or
// link text.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "[", `\[`, "]", `\]`, "\n", " ")
	return r.Replace(s)
}

// FigureNames returns the names of the report's figures that were rendered.
func (r *Report) FigureNames() []string {
	var out []string
	for _, f := range r.Figures {
		if f.Err == "" {
			out = append(out, f.Name)
		}
	}
	return slices.Clip(out)
}

// densityGrid is the number of eigenvalues at which DensityFromSLQ
// evaluates a density.
const densityGrid = 1000

// DensityFromSLQ evaluates a stochastic Lanczos quadrature on a grid of
// densityGrid eigenvalues spanning the Ritz values θ_{r,j} (padded by 5 %
// of the range and 5σ):
//
//	ρ(t) = P · mean_r Σ_j τ²_{r,j} N(t; θ_{r,j}, σ²),
//
// with σ² = 1e-5 · max(1, λ_max − λ_min) as in Ghorbani et al. (2019),
// widened to two grid spacings when that is larger so that no peak falls
// between grid points (a display choice). It returns ok = false when the
// quadrature has no finite node.
func DensityFromSLQ(label string, d *spec.SpectralDensity) (Density, bool) {
	if d == nil {
		return Density{}, false
	}
	var nodes, weights []float64
	runs := 0
	for r := range d.Nodes {
		if r >= len(d.Weights) {
			break
		}
		runs++
		for j, th := range d.Nodes[r] {
			if j < len(d.Weights[r]) && finite(th) && finite(d.Weights[r][j]) {
				nodes, weights = append(nodes, th), append(weights, d.Weights[r][j])
			}
		}
	}
	lo, hi := minMax(nodes)
	if len(nodes) == 0 || runs == 0 {
		return Density{}, false
	}
	sigma := math.Sqrt(1e-5 * max(1, hi-lo))
	pad := 0.05*(hi-lo) + 5*sigma
	lo, hi = lo-pad, hi+pad
	step := (hi - lo) / (densityGrid - 1)
	sigma = max(sigma, 2*step)
	out := Density{Label: label, Eigenvalues: make([]float64, densityGrid), Values: make([]float64, densityGrid)}
	scale := float64(max(d.Params, 1)) / float64(runs) / (sigma * math.Sqrt(2*math.Pi))
	for i := range out.Eigenvalues {
		t := lo + float64(i)*step
		var s float64
		for k, th := range nodes {
			z := (t - th) / sigma
			s += weights[k] * math.Exp(-z*z/2)
		}
		out.Eigenvalues[i], out.Values[i] = t, s*scale
	}
	return out, true
}

// DensitiesFromRecords returns the spectral densities (DensityFromSLQ) of
// up to n successful records that carry one (Result.Density), spread evenly
// over them in order of batch size, labelled by the grid axes that vary
// among the records and the seed ("batch_size=32, lr=0.1, seed=1").
func DensitiesFromRecords(recs []Record, n int) []Density {
	var with []Record
	for _, r := range recs {
		if r.Result != nil && r.Result.Density != nil && classify(r) == StatusOK {
			with = append(with, r)
		}
	}
	slices.SortStableFunc(with, func(a, b Record) int { return cmp.Compare(a.Spec.BatchSize, b.Spec.BatchSize) })
	varying, _ := results.Varying(recs)
	if !slices.Contains(varying, AxisSeed) {
		varying = append(varying, AxisSeed)
	}
	count := min(n, len(with))
	var out []Density
	for i := range count {
		k := 0
		if count > 1 {
			k = i * (len(with) - 1) / (count - 1)
		}
		r := with[k]
		label := densityLabel(r, varying)
		if d, ok := DensityFromSLQ(label, r.Result.Density); ok {
			out = append(out, d)
		}
	}
	return out
}

// densityLabel names a trial by its values on the given axes.
func densityLabel(r Record, axes []string) string {
	parts := make([]string, 0, len(axes))
	for _, a := range axes {
		path, err := results.AxisPath(a)
		if err != nil {
			continue
		}
		v, _ := spec.GetJSON(r.Spec, path)
		parts = append(parts, a+"="+results.ShowValue(v))
	}
	return strings.Join(parts, ", ")
}
