package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// filterFlags are --where and --exclude, which results, analyze, report and
// export share: --where AXIS=V1,V2 keeps the trials whose axis takes one of
// the values, --exclude AXIS=V1,V2 drops them; each is repeatable, and a
// trial must pass all of them (see results.Filter).
type filterFlags struct {
	where, exclude []string
}

// addFilterFlags adds --where and --exclude to cmd.
func addFilterFlags(cmd *cobra.Command, f *filterFlags) {
	cmd.Flags().StringArrayVar(&f.where, "where", nil,
		"keep trials whose AXIS is one of the values: AXIS=V1,V2 (repeatable; axes: "+strings.Join(spec.AxisNames(), ", ")+")")
	cmd.Flags().StringArrayVar(&f.exclude, "exclude", nil,
		"drop trials whose AXIS is one of the values: AXIS=V1,V2 (repeatable), e.g. --exclude lr=2")
}

// filterHelp is the sentence the commands' long help gives the flags.
const filterHelp = `--where AXIS=V1,V2 keeps only the trials whose axis takes one of the values and
--exclude AXIS=V1,V2 drops them (both repeatable; a value no trial takes is an
error), e.g. --exclude lr=2 to leave out a learning rate that trained nothing.`

// set reports whether any filter was given.
func (f filterFlags) set() bool { return len(f.where)+len(f.exclude) > 0 }

// parse returns the filters; a malformed one is a usage error naming its
// flag.
func (f filterFlags) parse() ([]results.Filter, error) {
	var out []results.Filter
	for _, w := range f.where {
		flt, err := results.ParseFilter(w)
		if err != nil {
			return nil, usagef("--where %v", err)
		}
		out = append(out, flt)
	}
	for _, w := range f.exclude {
		flt, err := results.ParseExclude(w)
		if err != nil {
			return nil, usagef("--exclude %v", err)
		}
		out = append(out, flt)
	}
	return out, nil
}

// apply returns the records that pass the filters; a value no trial takes
// is a usage error.
func (f filterFlags) apply(recs []results.Record) ([]results.Record, error) {
	fs, err := f.parse()
	if err != nil || len(fs) == 0 {
		return recs, err
	}
	kept, err := results.Select(recs, fs...)
	if err != nil {
		return nil, usagef("--where/--exclude %v", err)
	}
	return kept, nil
}

// describe lists the filters as given ("--where lr=0.1", "--exclude lr=2").
func (f filterFlags) describe() []string {
	var out []string
	for _, w := range f.where {
		out = append(out, "--where "+w)
	}
	for _, w := range f.exclude {
		out = append(out, "--exclude "+w)
	}
	return out
}
