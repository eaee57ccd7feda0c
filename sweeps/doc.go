// Package sweeps reads a researcher's sweep declaration (YAML), validates it,
// fills in documented defaults and expands its grid into trials with stable
// identities.
//
// A sweep file fixes the dataset, the model, the training budget and the
// curvature settings, and declares a grid of batch sizes B, learning rates ε
// and seeds:
//
//	name: quickstart
//	dataset: {name: synthetic, n: 1024, n_test: 1024}
//	model:   {arch: mlp, hidden: [64, 64]}
//	train:   {epochs: 20}
//	grid:
//	  batch_size: [16, 64, 256]
//	  lr: [0.05, 0.2]
//	  seed: [1, 2]
//
// Required fields: name, dataset.name, dataset.n, dataset.n_test, model.arch,
// model.hidden, train.epochs, grid.batch_size, grid.lr and grid.seed. Optional
// fields and their defaults (applied by Parse, before expansion, so that every
// trial's spec is complete and canonical):
//
//	dataset.features        16
//	dataset.classes         4
//	dataset.label_noise     0
//	dataset.seed            0
//	model.activation        relu
//	curvature.examples      0 (the whole training set)
//	curvature.lanczos_steps 20
//	curvature.tol           1e-3
//
// A field written as null (`tol:` or `tol: ~`) counts as omitted. Unknown
// fields are errors. Every error returned by Parse and Load for a bad spec wraps
// ErrInvalid and, as a *FieldError, names the file, the line, the field path
// (for example grid.batch_size[2]) and the offending value.
//
// Expand returns the Cartesian product of the grid, batch_size outermost, then
// lr, then seed (innermost), each trial identified by TrialID, a hash of its
// canonical JSON spec: resubmitting a sweep, or declaring the same trial in
// another sweep, yields the same ID.
package sweeps
