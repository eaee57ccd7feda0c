// Package spec is the identity of a trial: the sweep and trial specs, their
// defaults, validation, canonical form, trial IDs and grid axes, the registry
// of curvature and flatness measures, and the record of what a trial
// produced (Result). It is a leaf: it imports nothing of the training engine,
// the store or the transport, so that everything else can depend on it.
//
// # Identity
//
// A trial is a pure function of its Trial spec. Its ID is
//
//	"t-" + hex(SHA-256(Identity(spec)))[:32]
//
// where Identity is the spec's canonical JSON (encoding/json: fields in
// declaration order, zero values of optional fields left out, floats in
// shortest round-trip form) with the paths of the files it reads replaced by
// their content: a file dataset carries the SHA-256 digest of its files
// (Dataset.Digest) and a warm start the digest of its weights, and the paths
// are left out of the identity. Moving the data keeps every ID; changing a
// file changes them. Grid values are kept exactly, integers as integers of
// any size (a seed of 2⁵³ + 1 stays 2⁵³ + 1).
//
// # Axes
//
// A sweep's trials vary along its axes (Sweep.Layout): the named grid axes
// (Grid.Axes), axes over any trial field by JSON path (Grid.Fields, key
// "axes"), linked axes that vary together (Grid.Linked) and random search
// (Random: seeded draws from uniform, log-uniform, integer and choice
// distributions, or a sample of the grid without replacement). Trial i is
// computed on its own (Sweep.Trial): the draws are counter-based (Uniform,
// SamplePoint), so a sweep of millions of trials is laid out lazily and the
// same file gives the same trials and IDs everywhere. A sweep without the
// new axes expands exactly as before.
//
// # Defaults
//
// Every default is written once, in defaults.go (the Default constants) and,
// for a measure's settings, in the struct tags of its settings type.
// Trial.Resolved fills in the defaults that are part of the canonical form
// and leaves out those that are not, so that writing a default out never
// changes an identity.
//
// # Measures
//
// Each measure is one Measure descriptor in the registry (Registry): its
// name, settings with defaults and ranges, validation, the scalars it
// records and whether Dinh et al.'s α-scaling leaves it unchanged. The
// engine (package compute) holds the code that takes it, keyed by name.
//
// # Validation
//
// Trial.Validate and Sweep.Validate check every field without reading a file
// or building a network: the network's exact layers come from
// Trial.Architecture. Problems are *FieldError values naming the field's path
// and value; the sweep-file reader (package sweeps) adds the file and line.
package spec
