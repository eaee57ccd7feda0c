package train

import (
	"fmt"
	"math/rand/v2"
)

// Augment configures data augmentation of training batches by random
// translations. The zero value (MaxShift 0) disables it.
//
// Every example of a batch is shifted by its own offset (dy, dx), both drawn
// uniformly from {−MaxShift, …, MaxShift}, with zero fill (see Shift). The
// offsets of update t (0-based, counted over the whole run) come from a PCG
// generator seeded with (Seed, t), so they depend only on the seed and the
// step, never on timing or on earlier draws: a run is bit-for-bit
// reproducible and the draws of a step do not depend on its batch size.
// Evaluations (metrics, curvature) use the unshifted data.
type Augment struct {
	// MaxShift is the largest shift s in pixels, 0 ≤ s < min(Height, Width).
	MaxShift int
	// Channels, Height and Width give the image layout of each example (NCHW
	// flattened, as in nn.NewCNN): Channels·Height·Width must equal the
	// number of features.
	Channels, Height, Width int
	// Seed seeds the per-step generators.
	Seed uint64
}

func (a Augment) validate(features int) error {
	if a.MaxShift == 0 {
		return nil
	}
	if a.MaxShift < 0 || a.Channels < 1 || a.Height < 1 || a.Width < 1 ||
		a.Channels*a.Height*a.Width != features || a.MaxShift >= min(a.Height, a.Width) {
		return fmt.Errorf("%w: augmentation shift %d on %d×%d×%d images with %d features",
			ErrConfig, a.MaxShift, a.Channels, a.Height, a.Width, features)
	}
	return nil
}

// Shift sets dst to the image src (c channels of h×w pixels, NCHW flattened)
// translated by dy rows down and dx columns right, with zero fill:
//
//	dst[ch, y, x] = src[ch, y − dy, x − dx]  if 0 ≤ y − dy < h and 0 ≤ x − dx < w,
//	dst[ch, y, x] = 0                        otherwise.
//
// Negative offsets shift up and left. dst and src must not overlap.
func Shift(dst, src []float64, c, h, w, dy, dx int) {
	clear(dst[:c*h*w])
	x0, x1 := max(0, dx), min(w, w+dx) // destination columns with a source
	if x0 >= x1 {
		return
	}
	for ch := range c {
		for y := max(0, dy); y < min(h, h+dy); y++ {
			d := dst[(ch*h+y)*w:]
			s := src[(ch*h+y-dy)*w:]
			copy(d[x0:x1], s[x0-dx:x1-dx])
		}
	}
}

// augmenter shifts the rows of a batch in place.
type augmenter struct {
	a   Augment
	pcg *rand.PCG
	rng *rand.Rand
	tmp []float64
}

func newAugmenter(a Augment) *augmenter {
	if a.MaxShift == 0 {
		return nil
	}
	pcg := rand.NewPCG(0, 0)
	return &augmenter{a: a, pcg: pcg, rng: rand.New(pcg), tmp: make([]float64, a.Channels*a.Height*a.Width)}
}

// apply shifts each of the rows of x (d features each) for update step.
func (g *augmenter) apply(x []float64, rows, step int) {
	g.pcg.Seed(g.a.Seed, uint64(step))
	s, d := g.a.MaxShift, len(g.tmp)
	for r := range rows {
		dy, dx := g.rng.IntN(2*s+1)-s, g.rng.IntN(2*s+1)-s
		row := x[r*d : (r+1)*d]
		copy(g.tmp, row)
		Shift(row, g.tmp, g.a.Channels, g.a.Height, g.a.Width, dy, dx)
	}
}
