package analysis

import (
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ErrPlot is returned when drawing a figure fails inside the plotting library
// (gonum/plot panics on some inputs; the panic is recovered and wrapped).
var ErrPlot = errors.New("analysis: plot failed")

// Figure is a finished figure, ready to be written as PNG and SVG. A figure
// never fails for lack of data: when there is nothing (or less than expected)
// to draw, it still draws its title and says what is missing in the figure,
// and Note repeats it as a sentence the report can print.
type Figure struct {
	// Title is the figure's title.
	Title string
	// Note is empty when every input was drawn; otherwise it says what is
	// missing or left out (e.g. "no successful trials: 4 diverged"). Empty is
	// true when nothing but the note was drawn.
	Note  string
	Empty bool
	// Width and Height are the figure's size.
	Width, Height vg.Length
	// Files lists the files written by the last Save.
	Files []string

	draw func(draw.Canvas)
}

// figure sizes.
const (
	figWidth  = 16 * vg.Centimeter
	figHeight = 11 * vg.Centimeter
)

// newFigure returns a figure drawing p.
func newFigure(p *plot.Plot, title string) *Figure {
	return &Figure{Title: title, Width: figWidth, Height: figHeight, draw: p.Draw}
}

// legendFigure returns a figure drawing p with leg to its right, outside the
// data area (so the legend never hides data), below the title; p's title must
// be final.
func legendFigure(p *plot.Plot, leg *plot.Legend, title string) *Figure {
	f := newFigure(p, title)
	leg.Top = true
	leg.YOffs = -vg.Length(strings.Count(p.Title.Text, "\n")+2) * p.Title.TextStyle.FontExtents().Height
	f.draw = func(c draw.Canvas) {
		r := leg.Rectangle(c)
		leg.Draw(c)
		p.Draw(draw.Crop(c, 0, -(r.Max.X-r.Min.X)-2*vg.Millimeter, 0, 0))
	}
	return f
}

// emptyFigure returns a figure showing only title and, in the middle, note.
func emptyFigure(title, note string) *Figure {
	p := plot.New()
	p.Title.Text = title
	p.HideAxes()
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	if l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: 0.5, Y: 0.5}}, Labels: []string{note}}); err == nil {
		l.TextStyle[0] = textStyle(14)
		p.Add(l)
	}
	f := newFigure(p, title)
	f.Note, f.Empty = note, true
	return f
}

// FigureDPI is the resolution of raster figures (PNG, JPEG, TIFF): 200
// dots per inch, so a 16 cm × 11 cm figure is 1260 × 866 pixels, sharp on
// a high-density screen and in print. Vector formats (SVG, PDF, EPS) have
// no resolution.
const FigureDPI = 200

// Write draws the figure to w in format "png", "svg", "pdf", "eps", "jpg" or
// "tif"; raster formats at FigureDPI.
func (f *Figure) Write(w io.Writer, format string) (err error) {
	var c vg.CanvasWriterTo
	switch format {
	case "png", "jpg", "jpeg", "tif", "tiff":
		img := vgimg.NewWith(vgimg.UseWH(f.Width, f.Height), vgimg.UseDPI(FigureDPI))
		switch format {
		case "png":
			c = fastPNG{img}
		case "jpg", "jpeg":
			c = vgimg.JpegCanvas{Canvas: img}
		default:
			c = vgimg.TiffCanvas{Canvas: img}
		}
	default:
		if c, err = draw.NewFormattedCanvas(f.Width, f.Height, format); err != nil {
			return fmt.Errorf("figure %q: %w", f.Title, err)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("figure %q: %v: %w", f.Title, r, ErrPlot)
		}
	}()
	f.draw(draw.New(c))
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("figure %q: write %s: %w", f.Title, format, err)
	}
	return nil
}

// Save writes the figure to stem.png and stem.svg (a ".png" or ".svg" ending
// of stem is removed first) and records them in Files.
func (f *Figure) Save(stem string) error {
	stem = strings.TrimSuffix(strings.TrimSuffix(stem, ".png"), ".svg")
	f.Files = nil
	for _, format := range []string{"png", "svg"} {
		path := stem + "." + format
		if err := f.saveFile(path, format); err != nil {
			return err
		}
		f.Files = append(f.Files, path)
	}
	return nil
}

func (f *Figure) saveFile(path, format string) (err error) {
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("figure %q: %w", f.Title, err)
	}
	defer func() {
		if cerr := file.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("figure %q: %w", f.Title, cerr)
		}
	}()
	return f.Write(file, format)
}

// saved returns f after saving it to stem.
func saved(f *Figure, stem string) (*Figure, error) {
	if err := f.Save(stem); err != nil {
		return f, err
	}
	return f, nil
}

// joinNotes joins the non-empty notes with "; ".
func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}

// titled returns the title with the note as a second line.
func titled(title, note string) string {
	if note == "" {
		return title
	}
	return title + "\n" + note
}

// countsNote describes the trials left out of a figure because they did not
// succeed, or "" when all did.
func countsNote(c Counts) string {
	if c.Trials == c.OK {
		return ""
	}
	return fmt.Sprintf("%d of %d trials not shown (%s)", c.Trials-c.OK, c.Trials, notOK(c))
}

// notOK lists the non-succeeded counts, e.g. "2 diverged, 1 failed".
func notOK(c Counts) string {
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{c.Diverged, "diverged"}, {c.NotFitted, "not fitted"}, {c.Failed, "failed"}, {c.Unfinished, "unfinished"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	return strings.Join(parts, ", ")
}

// noDataNote explains why nothing could be drawn from points for what.
func noDataNote(c Counts, what string) string {
	switch {
	case c.Trials == 0:
		return "no trials"
	case c.OK == 0:
		return fmt.Sprintf("no successful trials: %d of %d %s", c.Trials-c.OK, c.Trials, notOK(c))
	}
	return joinNotes("no trial with "+what, countsNote(c))
}

// logAxis makes a a logarithmic axis whose data are given as log₁₀ of the
// values (callers transform with math.Log10), over the values lo…hi > 0,
// padded by a factor 1.2 (a factor 2 around a single value). Ticks are placed
// and labelled at the original values (see logTicks).
//
// gonum's plot.LogScale is not used: it panics on a non-positive axis bound
// and mis-places the axis label when computing padding, shrinking the data
// area.
func logAxis(a *plot.Axis, lo, hi float64) {
	a.Tick.Marker = plot.TickerFunc(logTicks)
	pad := math.Log10(1.2)
	if lo == hi {
		pad = math.Log10(2)
	}
	a.Min, a.Max = math.Log10(lo)-pad, math.Log10(hi)+pad
}

// logTicks returns ticks for an axis in log₁₀ units over [lo, hi]: at
// log₁₀(i·10^k) for i = 1…9, labelled 10^k, and also 2 and 5 × 10^k when the
// range spans at most two decades.
func logTicks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	dense := hi-lo <= 2
	var ticks []plot.Tick
	for e := math.Floor(lo); e <= math.Ceil(hi); e++ {
		for i := 1; i <= 9; i++ {
			v := math.Log10(float64(i)) + e
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if i == 1 || (dense && (i == 2 || i == 5)) {
				t.Label = formatTick(float64(i) * math.Pow(10, e))
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// formatTick formats a tick value compactly: plainly from 10⁻⁴ to below
// 10⁶ ("0.001", "20000"), else as "1e-05" or "1e6".
func formatTick(v float64) string {
	if a := math.Abs(v); a == 0 || (a >= 1e-4 && a < 1e6) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strings.Replace(strconv.FormatFloat(v, 'g', 4, 64), "e+", "e", 1)
}

// titledLines returns the title with each non-empty note on a line of its
// own (a long note line would be cut at the figure's edges).
func titledLines(title string, notes ...string) string {
	out := title
	for _, n := range notes {
		if n != "" {
			out += "\n" + n
		}
	}
	return out
}

// minMax returns the extremes of the finite values of xs (NaN, NaN if none).
func minMax(xs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		if finite(x) {
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	if lo > hi {
		return math.NaN(), math.NaN()
	}
	return lo, hi
}

// useLog reports whether values lo…hi are best shown on a log scale: all
// positive and spanning at least two decades.
func useLog(lo, hi float64) bool { return lo > 0 && hi/lo >= 100 }

// metricLabel returns an axis label with units for a metric name.
func metricLabel(name string) string {
	switch name {
	case MetricTestAcc:
		return "test accuracy (fraction)"
	case MetricTrainAcc:
		return "training accuracy (fraction)"
	case MetricTestLoss:
		return "test loss (nats)"
	case MetricTrainLoss:
		return "training loss (nats)"
	case MetricGap:
		return "generalization gap, train − test accuracy (fraction)"
	case MetricLossGap:
		return "generalization gap, test − train loss (nats)"
	case MetricLambdaMax:
		return "top Hessian eigenvalue λ1 (nats per unit θ²)"
	}
	return name
}

// metricShort returns a short name of a metric for titles.
func metricShort(name string) string {
	switch name {
	case MetricTestAcc:
		return "Test accuracy"
	case MetricTrainAcc:
		return "Training accuracy"
	case MetricGap:
		return "Generalization gap"
	case MetricLambdaMax:
		return "λ1"
	}
	return name
}

// textStyle returns the default text style at size pt, centred on its point.
func textStyle(pt float64) text.Style {
	return text.Style{Font: font.From(plot.DefaultFont, vg.Points(pt)), Handler: plot.DefaultTextHandler,
		XAlign: draw.XCenter, YAlign: draw.YCenter}
}

// fastPNG writes a canvas as PNG with the fastest compression: at
// FigureDPI the default compression costs more than drawing the figure.
type fastPNG struct{ *vgimg.Canvas }

// WriteTo implements io.WriterTo.
func (c fastPNG) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(cw, c.Image()); err != nil {
		return cw.n, fmt.Errorf("png: %w", err)
	}
	return cw.n, nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
