package analysis

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// viridisAnchors are viridis (van der Walt & Smith, matplotlib's default
// sequential map: perceptually uniform, readable in grey and under the
// common colour-vision deficiencies) at t = 0, 0.1, …, 1.
var viridisAnchors = [...]color.NRGBA{
	{68, 1, 84, 255}, {72, 36, 117, 255}, {65, 68, 135, 255}, {53, 95, 141, 255},
	{42, 120, 142, 255}, {33, 145, 140, 255}, {34, 168, 132, 255}, {68, 191, 112, 255},
	{122, 209, 81, 255}, {189, 223, 38, 255}, {253, 231, 37, 255},
}

// viridis is a palette.ColorMap of viridis over [Min, Max]: dark purple at
// the low end, yellow at the high end, linear in RGB between the anchors
// (within a few units of the full map). Sequential maps suit quantities
// without a meaningful midpoint (accuracy, λ₁, a loss), where a diverging
// map would invent one.
type viridis struct{ lo, hi, alpha float64 }

// newViridis returns viridis over [lo, hi], opaque.
func newViridis(lo, hi float64) *viridis { return &viridis{lo: lo, hi: hi, alpha: 1} }

// At returns the colour of v (an error outside [Min, Max]).
func (m *viridis) At(v float64) (color.Color, error) {
	if !(v >= m.lo && v <= m.hi) {
		return nil, fmt.Errorf("viridis: %g outside [%g, %g]", v, m.lo, m.hi)
	}
	t := 0.0
	if m.hi > m.lo {
		t = (v - m.lo) / (m.hi - m.lo)
	}
	return viridisAt(t, m.alpha), nil
}

// viridisAt returns the colour at t ∈ [0, 1] with opacity alpha.
func viridisAt(t, alpha float64) color.NRGBA {
	t = min(max(t, 0), 1)
	x := t * float64(len(viridisAnchors)-1)
	i := min(int(x), len(viridisAnchors)-2)
	f := x - float64(i)
	a, b := viridisAnchors[i], viridisAnchors[i+1]
	mix := func(p, q uint8) uint8 { return uint8(math.Round(float64(p)*(1-f) + float64(q)*f)) }
	return color.NRGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), uint8(math.Round(255 * alpha))}
}

func (m *viridis) Max() float64       { return m.hi }
func (m *viridis) SetMax(v float64)   { m.hi = v }
func (m *viridis) Min() float64       { return m.lo }
func (m *viridis) SetMin(v float64)   { m.lo = v }
func (m *viridis) Alpha() float64     { return m.alpha }
func (m *viridis) SetAlpha(a float64) { m.alpha = a }

// Palette returns n colours evenly spaced over the map.
func (m *viridis) Palette(n int) palette.Palette {
	cs := make([]color.Color, n)
	for i := range cs {
		t := 0.0
		if n > 1 {
			t = float64(i) / float64(n-1)
		}
		cs[i] = viridisAt(t, m.alpha)
	}
	return colors(cs)
}

// colors is a palette.Palette.
type colors []color.Color

func (c colors) Colors() []color.Color { return c }

// okabeIto is Okabe & Ito's qualitative palette of colours told apart under
// every common colour-vision deficiency (its yellow is left out: it vanishes
// on white).
var okabeIto = [...]color.NRGBA{
	{0, 114, 178, 255},   // blue
	{213, 94, 0, 255},    // vermillion
	{0, 158, 115, 255},   // bluish green
	{204, 121, 167, 255}, // reddish purple
	{230, 159, 0, 255},   // orange
	{86, 180, 233, 255},  // sky blue
	{0, 0, 0, 255},       // black
}

// seriesColor returns the colour of series i: the Okabe–Ito colours in turn.
// Series beyond them repeat a colour with another dash pattern
// (seriesDashes) and glyph, so no two series look alike.
func seriesColor(i int) color.Color { return okabeIto[i%len(okabeIto)] }

// seriesDashes returns the dash pattern of series i: solid for the first
// round of colours, then dashed, dotted and dash-dotted.
func seriesDashes(i int) []vg.Length {
	switch (i / len(okabeIto)) % 4 {
	case 1:
		return []vg.Length{vg.Points(5), vg.Points(3)}
	case 2:
		return []vg.Length{vg.Points(1.5), vg.Points(2)}
	case 3:
		return []vg.Length{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)}
	}
	return nil
}

// seriesShapes are the glyphs of series, in turn.
var seriesShapes = [...]draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PlusGlyph{},
	draw.CrossGlyph{}, draw.RingGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{},
}

// seriesShape returns the glyph of series i.
func seriesShape(i int) draw.GlyphDrawer { return seriesShapes[i%len(seriesShapes)] }

// withAlpha returns c with opacity a.
func withAlpha(c color.Color, a float64) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(math.Round(255 * a))}
}

// luminance returns the relative luminance of c (WCAG 2: sRGB decoded to
// linear light, 0.2126 R + 0.7152 G + 0.0722 B), 0 for black, 1 for white.
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		x := float64(v) / 0xffff
		if x <= 0.04045 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// labelColor returns black or white, whichever contrasts more with a
// background of colour bg (WCAG contrast ratio (L₁ + 0.05)/(L₂ + 0.05)).
func labelColor(bg color.Color) color.Color {
	l := luminance(bg)
	if (l+0.05)/0.05 >= 1.05/(l+0.05) {
		return color.Black
	}
	return color.White
}
