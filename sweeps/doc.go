// Package sweeps reads a researcher's sweep file (YAML) into a spec.Sweep and
// expands its grid into trials. The sweep and trial types, their defaults,
// validation, canonical form and IDs are package spec's; this package is the
// file reader on top of it, and the grid walker.
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
// Its keys are the JSON names of spec.Sweep's fields (dataset, model, train,
// curvature and grid sections; see spec.Trial, spec.Dataset, spec.Model,
// spec.Training, spec.Curvature and docs/MEASURES.md for every field and
// default). Parse checks the document against the shape of spec.Sweep
// (unknown and repeated fields, lists against scalars, integers against
// numbers, integer ranges, finite numbers), decodes it into spec.Sweep
// through its JSON form (integers stay exact), applies spec.Sweep.Resolved
// and validates it with spec.Sweep.Validate, adding the checks that concern
// how the file is written: a required field left out, a default written as
// 0 (0 means "omitted"), a value given in two places (dataset.n and grid.n).
// A field written as null (`tol:` or `tol: ~`) counts as omitted. Every error
// wraps ErrInvalid and, as a *FieldError, names the file, the line, the
// field path (for example grid.batch_size[2]) and the value as written.
//
// Besides the named axes, grid.axes sweeps any trial field by its JSON
// path (model.hidden: [[512, 512], [1024]]), grid.linked groups axes that
// vary together (a zip of equally long lists), and a random section draws
// random.count configurations of the fields in random.draws from seeded
// uniform, log_uniform, int and choice distributions, or random.sample
// runs that many grid points drawn without replacement (docs/SWEEPS.md).
//
// Expand returns the Cartesian product of the sweep's dimensions: the
// random configurations, the field axes and the linked groups outermost,
// then the optional axes n, momentum, weight_decay, sam_rho, sam_m (in that
// order, when the grid lists them), then batch_size, lr and seed
// (innermost), each trial
// identified by spec.ID: resubmitting a sweep, or declaring the same trial in
// another sweep, yields the same ID. ForEachTrial and Expander walk very
// large grids without a spec per trial, splicing each trial's identity from
// a spec.Template.
package sweeps
