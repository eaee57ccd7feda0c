// Package analysis aggregates finished trials of a sweep into the summary the
// CLI prints: one row per grid point (N, B, ε), with the SGD noise scale
// g = ε(N/B − 1) of Smith & Le (2018) and the mean ± sample standard deviation
// over seeds of the final accuracies, the generalization gap and the top
// Hessian eigenvalue λ₁.
//
// Nothing is dropped silently: diverged trials are excluded from the means but
// counted, and so are failed and unfinished ones.
package analysis
