// Package analysis turns finished trials of a sweep into the numbers and
// figures that test the science of flatsweep (see docs/SCIENCE.md).
//
// Summary tables come from package results, the one grouping engine, which
// Aggregate here uses too: every number of an analysis that averages over
// seeds is the number `flatsweep results` prints.
//
// Generic analyses work on Points: a trial's hyperparameters as named axis
// values (AxisB, AxisLR, AxisN, AxisMomentum, AxisWeightDecay, AxisSeed, …,
// named as the grid names them) and its outcomes as
// named metrics (MetricTestAcc, MetricGap, MetricLambdaMax, or any flatness
// measure), so a new measure is a new key, not new code. PointsFromRecords
// adapts Records.
//
//   - Aggregate: mean, standard deviation and 95 % Student-t interval of every
//     metric over the seeds of each grid point.
//   - OptimalBatches and FitBatchScaling: the batch size of best test accuracy
//     per (ε, N, m), refined by a parabola in ln B, and the log–log fit of
//     B_opt against ε, N or 1/(1 − m) (Smith & Le predict slope 1).
//   - Collapse: whether test accuracy depends on g alone (residual variances
//     and BICs of a polynomial fit in ln g and in ln B, ln ε, …).
//   - KendallTauB, GranulatedTau and ScoreMeasures: each flatness measure
//     judged by Kendall's τ-b and Jiang et al.'s (2020) granulated Ψ.
//   - DinhCheck: a measure before and after Dinh et al.'s α-scaling.
//   - AccVsG, HeatMap, MeasureVsGap, SpectralDensity, TrainingCurves (and
//     their Plot… forms): figures saved as PNG and SVG.
//
// Nothing is dropped silently: diverged, failed and unfinished trials are
// excluded from means, fits and correlations but counted (Counts) in every
// result and in every figure's note; a figure with nothing to draw says so.
package analysis
