// Package compute is the training engine: it runs one trial of a sweep. It
// builds the data set and the network, trains it and measures the curvature
// and flatness of the training loss at the end point with exact
// Hessian-vector products.
//
// A trial is a pure function of its spec.Trial (plus a context for
// cancellation and a progress callback): compute never touches the network or
// the store, so it can be tested, benchmarked and run outside the cluster.
// The spec's identity, defaults and validation live in package spec; compute
// only runs what the spec describes, and checks what only the run can check
// (that the files carry the content digest the spec names, that the built
// network has the layers spec.Trial.Architecture describes).
//
// The work is split into sub-packages:
//
//	blas       the BLAS backend (pure-Go gonum, or OpenBLAS with -tags openblas)
//	data       the seeded synthetic task, IDX and CIFAR-10 readers, subsets, standardization
//	nn         networks on a flat parameter vector: backprop, R-operator Hessian-vector
//	           products, Gauss–Newton products
//	train      minibatch SGD (heavy-ball, Nesterov), Adam, schedules, augmentation,
//	           SAM/ASAM/m-sharpness and stochastic weight averaging
//	curvature  Lanczos (λ₁, top-k), Hutchinson and Hutch++ traces, stochastic
//	           Lanczos quadrature
//	flatness   the flatness measures: Keskar sharpness, adaptive sharpness, relative
//	           flatness, Fisher–Rao norm, PAC-Bayes flatness, Laplace evidence, Dinh's
//	           α-scaling
//	weights    safetensors files under PyTorch state_dict names
//
// RunTrial wires them together; every random draw comes from a PCG generator
// seeded by the spec (the data seed for the data, the trial seed with a fixed
// stream constant for initialization, batch order, the curvature subset, the
// Lanczos start vector and each measure). Each measure of spec.Registry has
// its runner here (measures.go), keyed by name.
package compute
