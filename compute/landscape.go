package compute

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/landscape"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/spec"
)

// landscapeSubsets draws the fixed subsets of m training and mTest test
// examples a landscape is evaluated on (all of a set when it is not larger),
// in their original order, from r: one permutation of each set is always
// drawn, so the draws that follow (the directions) depend only on the seed
// and the sizes of the sets.
func landscapeSubsets(r *rand.Rand, trainSet, testSet data.Set, m, mTest int) (data.Set, data.Set) {
	train := subset(trainSet, sampleIndices(r, trainSet.Len(), m))
	return train, subset(testSet, sampleIndices(r, testSet.Len(), mTest))
}

// Landscape evaluates the loss landscape t.Curvature.Landscape asks for (its
// defaults applied) around θ of net: the mean loss and the accuracy over
// fixed subsets of Examples training and TestExamples test examples at
// θ + a·d₁ (Dims 1) or θ + a·d₁ + b·d₂ (Dims 2) for a, b on Points equally
// spaced values in [−Extent, Extent], d₁ and d₂ filter-normalized random
// directions with the given bias mode (see package landscape). The subsets
// and then d₁ and d₂ are drawn from one generator seeded with t.Seed and
// its own stream, so they do not depend on the other measures. Invalid
// settings give a *spec.FieldError; a cancelled ctx stops it between grid
// points with an error wrapping ctx.Err().
func Landscape(ctx context.Context, t spec.Trial, net *nn.Network, theta []float64, trainSet, testSet data.Set) (*spec.Landscape, error) {
	s := t.Curvature.Landscape
	if err := s.Validate(trainSet.Len(), testSet.Len()); err != nil {
		return nil, err
	}
	if s == (spec.LandscapeSettings{}) {
		return nil, nil
	}
	s = s.WithDefaults()
	bias, err := landscape.ParseBias(s.Bias)
	if err != nil {
		return nil, invalid("curvature.landscape.bias", s.Bias, err.Error())
	}
	r := pcg(t.Seed, streamLandscape)
	train, test := landscapeSubsets(r, trainSet, testSet, s.Examples, s.TestExamples)
	d1, err := landscape.Direction(net, theta, bias, r)
	if err != nil {
		return nil, fmt.Errorf("curvature.landscape: %w", err)
	}
	grid := landscape.Grid(-s.Extent, s.Extent, s.Points)
	var d2, bs []float64
	if s.Dims == 2 {
		if d2, err = landscape.Direction(net, theta, bias, r); err != nil {
			return nil, fmt.Errorf("curvature.landscape: %w", err)
		}
		bs = grid
	}
	l, err := landscape.Slice(ctx, net, theta, d1, d2, grid, bs, train, test, landscape.Options{Rows: chunkRows(net)})
	if err != nil {
		return nil, landscapeError(err)
	}
	return l, nil
}

// LandscapeLine evaluates the loss and accuracy of net at
// (1 − α)·θ₀ + α·θ₁ for every α in alphas (Keskar et al.'s line between two
// models; see package landscape) over the same fixed subsets of examples
// and testExamples examples (capped at the set sizes) that Landscape draws
// from t.Seed.
func LandscapeLine(ctx context.Context, t spec.Trial, net *nn.Network, theta0, theta1, alphas []float64, trainSet, testSet data.Set, examples, testExamples int) (*spec.Landscape, error) {
	r := pcg(t.Seed, streamLandscape)
	train, test := landscapeSubsets(r, trainSet, testSet, examples, testExamples)
	l, err := landscape.Line(ctx, net, theta0, theta1, alphas, train, test, landscape.Options{Rows: chunkRows(net)})
	if err != nil {
		return nil, fmt.Errorf("landscape line: %w", err)
	}
	return l, nil
}

// landscapeError names the section of the spec a landscape failure belongs
// to; a loss that is not finite is a *spec.FieldError on the extent.
func landscapeError(err error) error {
	if errors.Is(err, landscape.ErrNotFinite) {
		return &spec.FieldError{Field: "curvature.landscape.extent", Problem: err.Error()}
	}
	return fmt.Errorf("curvature.landscape: %w", err)
}
