// Package compute runs one trial of a sweep: it builds the data set and the
// network, trains it with minibatch SGD and measures the curvature of the
// training loss at the end point with exact Hessian-vector products.
//
// A trial is a pure function of its TrialSpec (plus a context for cancellation
// and a progress callback): compute never touches the network or the store, so
// it can be tested, benchmarked and run outside the cluster.
//
// The work is split into sub-packages: data (the seeded synthetic task), nn
// (networks on a flat parameter vector with backprop and R-operator
// Hessian-vector products), train (minibatch SGD) and curvature (Lanczos).
// RunTrial wires them together; every random draw comes from a PCG generator
// seeded by the spec (the data seed for the data, TrialSpec.Seed with a fixed
// stream constant for initialization, batch order, the curvature subset and the
// Lanczos start vector).
package compute
