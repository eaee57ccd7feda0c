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
// Further optional fields (see compute.TrialSpec for their meaning; each is
// left out of the canonical form when omitted, so existing sweeps keep their
// trial IDs): dataset.dir, train_images, train_labels, test_images,
// test_labels, train_batches, test_batches, standardize (file datasets
// "mnist", "fashion-mnist", "kmnist", "cifar10"); model.width, blocks
// (arch "resmlp"), model.conv (arch "cnn"), model.loss ("ce" or "mse");
// train.steps (instead of train.epochs), train.weight_decay,
// train.optimizer {name: sgd|adam, momentum, nesterov, beta1, beta2, eps},
// train.schedule {lr: {kind: constant|step|cosine, milestones, gamma, floor},
// batch: {milestones, factor}}, train.augment {shift} and
// train.warm_start {path, sha256}. Defaults written out ("ce", "sgd",
// "constant") are normalized away. The grid may add the optional axes n,
// momentum and weight_decay, which replace dataset.n,
// train.optimizer.momentum and train.weight_decay.
//
// The curvature section may also select flatness measures computed in every
// trial after λ₁, with optional settings blocks (defaults shown; see
// compute.CurvatureSpec and the compute.Measure constants for the names of
// the results):
//
//	curvature:
//	  measures: [top_k, trace, density, evidence, keskar, adaptive, relative, fisher_rao, pac_bayes]
//	  top_k:      {k: 5, negative: 0, tol: 1e-3, steps: 100}
//	  trace:      {method: hutchpp, budget: 99, rel_err: 0}
//	  density:    {runs: 5, steps: 30}
//	  evidence:   {lambda: 1, operator: gauss_newton, runs: 5, steps: 30}
//	  keskar:     {epsilons: [1e-3, 5e-4], space: both, subspace: 100, iterations: 10}
//	  adaptive:   {rho: 0.05, norm: l2, plain: false, iterations: 10, samples: 20}
//	  relative:   {layer: 0, exact: false, budget: 50}
//	  fisher_rao: {model_labels: false, include_biases: false}
//	  pac_bayes:  {target: 0.1, samples: 5, steps: 20}
//
// A settings block is allowed only for a listed measure. Settings written
// out with their default value are normalized away (so they keep the trial
// IDs); an explicit 0 where 0 would mean "default" is an error.
//
// The curvature section may also enable Dinh et al.'s reparametrization
// check (see compute.DinhSpec):
//
//	curvature:
//	  dinh: {alpha: 10, layer: 0}
//
// Every trial then applies T_α (W₁ ← αW₁, b₁ ← αb₁, W₂ ← W₂/α) to the
// Dense–ReLU–Dense pair number layer (from 0 at the input; default 0) of the
// trained network, records the relative output change as
// "dinh_output_change", and recomputes λ₁ ("lambda_max@dinh") and every
// selected measure m ("m@dinh") at T_α θ. alpha is required, finite, > 0
// and ≠ 1; a model without such a pair (tanh activations, resmlp with
// blocks) is an error at curvature.dinh. Omitting the block keeps the trial
// IDs.
//
// A field written as null (`tol:` or `tol: ~`) counts as omitted. Unknown
// fields are errors. Every error returned by Parse and Load for a bad spec wraps
// ErrInvalid and, as a *FieldError, names the file, the line, the field path
// (for example grid.batch_size[2]) and the offending value.
//
// Expand returns the Cartesian product of the grid: the optional axes n,
// momentum, weight_decay outermost (in that order), then batch_size, lr and
// seed (innermost), each trial identified by TrialID, a hash of its
// canonical JSON spec: resubmitting a sweep, or declaring the same trial in
// another sweep, yields the same ID.
package sweeps
