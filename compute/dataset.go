package compute

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/spec"
)

// loadData generates or reads the training and test sets of ds and returns
// the image shape of their examples (zero for synthetic data). File data are
// the files spec.Dataset.Files lists; when ds carries a content digest, the
// files must have it (spec.Dataset.Digest), so a trial never trains on other
// data than its identity names.
func loadData(ds spec.Dataset) (trainSet, testSet data.Set, shape spec.Image, err error) {
	fail := func(err error) (data.Set, data.Set, spec.Image, error) {
		return data.Set{}, data.Set{}, spec.Image{}, err
	}
	if ds.Name == spec.DatasetSynthetic {
		trainSet, testSet, err = data.Synthetic(data.SyntheticConfig{
			N: ds.N, NTest: ds.NTest, Features: cmp.Or(ds.Features, spec.DefaultFeatures), Classes: cmp.Or(ds.Classes, spec.DefaultClasses),
			LabelNoise: ds.LabelNoise, Seed: ds.Seed,
		})
		if err != nil {
			return fail(fmt.Errorf("dataset: %w", err))
		}
		return standardize(ds, trainSet, testSet, spec.Image{})
	}
	pool, testPool, shape, err := readFiles(ds)
	if err != nil {
		return fail(err)
	}
	if err := fits(ds, pool, testPool); err != nil {
		return fail(err)
	}
	if testPool.Len() == 0 { // one source: hold out the test set
		if pool, testSet, err = pool.Split(pool.Len()-ds.NTest, ds.Seed); err != nil {
			return fail(fmt.Errorf("dataset: %w", err))
		}
	} else if testSet, err = testPool.Sample(ds.NTest, ds.Seed); err != nil {
		return fail(fmt.Errorf("dataset: %w", err))
	}
	if trainSet, err = pool.Sample(ds.N, ds.Seed); err != nil {
		return fail(fmt.Errorf("dataset: %w", err))
	}
	if ds.LabelNoise > 0 {
		noise := pcg(ds.Seed, streamFileLabelNoise)
		for i := range trainSet.Y {
			u, c := noise.Float64(), noise.IntN(trainSet.Classes) // always draw both: nested sets
			if u < ds.LabelNoise {
				trainSet.Y[i] = c
			}
		}
	}
	return standardize(ds, trainSet, testSet, shape)
}

// readFiles reads the files of a file data set — checked against its
// content digest when it has one — into its training pool and, when the
// files hold a separate test split, its test pool.
func readFiles(ds spec.Dataset) (pool, testPool data.Set, shape spec.Image, err error) {
	files, err := ds.Files()
	if err != nil {
		return data.Set{}, data.Set{}, spec.Image{}, err
	}
	if ds.SHA256 != "" {
		got, err := ds.Digest()
		if err != nil {
			return data.Set{}, data.Set{}, spec.Image{}, err
		}
		if got != ds.SHA256 {
			return data.Set{}, data.Set{}, spec.Image{}, invalid("dataset.sha256", ds.SHA256, fmt.Sprintf("the files at %s have the digest %s: they are not the data the trial was submitted with", where(ds), got))
		}
	}
	if spec.IsIDX(ds.Name) {
		return loadIDX(files)
	}
	return loadCIFAR(files)
}

// fits checks that the pools hold the examples ds samples: n + n_test from
// one pool, or n and n_test from separate ones.
func fits(ds spec.Dataset, pool, testPool data.Set) error {
	if testPool.Len() == 0 {
		if ds.N+ds.NTest > pool.Len() {
			return invalid("dataset.n", ds.N, fmt.Sprintf("n + n_test = %d exceeds the %d examples of the %s files", ds.N+ds.NTest, pool.Len(), ds.Name))
		}
		return nil
	}
	if ds.NTest > testPool.Len() {
		return invalid("dataset.n_test", ds.NTest, fmt.Sprintf("exceeds the %d examples of the %s test files", testPool.Len(), ds.Name))
	}
	if ds.N > pool.Len() {
		return invalid("dataset.n", ds.N, fmt.Sprintf("exceeds the %d training examples of the %s files", pool.Len(), ds.Name))
	}
	return nil
}

// CheckDatasets reads the files of every file data set among dss once each
// — set by set, as a trial would, digest included — and checks that every
// data set's n and n_test fit in them, so that a sweep whose data a worker
// could not train on is refused before any trial is stored. Synthetic data
// sets pass (their settings are checked by spec validation). The error names
// the data set's files and the field at fault.
func CheckDatasets(dss []spec.Dataset) error {
	type pools struct {
		pool, test data.Set
		err        error
	}
	read := map[string]*pools{}
	for _, ds := range dss {
		if ds.Name == spec.DatasetSynthetic {
			continue
		}
		key := ds.Name + "\x00" + ds.SHA256 + "\x00" + where(ds)
		p := read[key]
		if p == nil {
			p = &pools{}
			p.pool, p.test, _, p.err = readFiles(ds)
			read[key] = p
		}
		if p.err != nil {
			return p.err
		}
		if err := fits(ds, p.pool, p.test); err != nil {
			return fmt.Errorf("%s: %w", where(ds), err)
		}
	}
	return nil
}

// where names the files of a dataset for a message.
func where(ds spec.Dataset) string {
	if ds.Dir != "" {
		return ds.Dir
	}
	files, _ := ds.Files()
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	return strings.Join(paths, ", ")
}

// standardize applies ds.Standardize.
func standardize(ds spec.Dataset, trainSet, testSet data.Set, shape spec.Image) (data.Set, data.Set, spec.Image, error) {
	if !ds.Standardize {
		return trainSet, testSet, shape, nil
	}
	st, err := data.FitStandardizer(trainSet)
	if err == nil {
		trainSet, err = st.Apply(trainSet)
	}
	if err == nil {
		testSet, err = st.Apply(testSet)
	}
	if err != nil {
		return data.Set{}, data.Set{}, spec.Image{}, fmt.Errorf("dataset.standardize: %w", err)
	}
	return trainSet, testSet, shape, nil
}

// filesWith returns the paths of the files with the given roles (in order),
// "" for a role that is absent.
func filesWith(files []spec.File, roles ...string) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		for _, f := range files {
			if f.Role == r {
				out[i] = f.Path
			}
		}
	}
	return out
}

// loadIDX reads IDX files: the training pool and, when given, the test pool
// (empty otherwise).
func loadIDX(files []spec.File) (pool, testPool data.Set, shape spec.Image, err error) {
	p := filesWith(files, "train_images", "train_labels", "test_images", "test_labels")
	pool, shape, err = readIDX(p[0], p[1])
	if err != nil || p[2] == "" {
		return pool, data.Set{}, shape, err
	}
	testPool, testShape, err := readIDX(p[2], p[3])
	if err == nil && testShape != shape {
		err = fmt.Errorf("dataset: %s holds %d×%d images but %s %d×%d", p[2], testShape.H, testShape.W, p[0], shape.H, shape.W)
	}
	return pool, testPool, shape, err
}

// readIDX reads one IDX image and label pair.
func readIDX(images, labels string) (data.Set, spec.Image, error) {
	var x []float64
	var h, w int
	err := withFile(images, func(f io.Reader) (err error) {
		x, h, w, err = data.ReadIDXImages(f)
		return err
	})
	if err != nil {
		return data.Set{}, spec.Image{}, err
	}
	var y []int
	if err := withFile(labels, func(f io.Reader) (err error) { y, err = data.ReadIDXLabels(f); return err }); err != nil {
		return data.Set{}, spec.Image{}, err
	}
	if n := len(x) / (h * w); n != len(y) {
		return data.Set{}, spec.Image{}, fmt.Errorf("dataset: %s holds %d images but %s holds %d labels: %w",
			images, n, labels, len(y), data.ErrFormat)
	}
	return data.Set{X: x, Y: y, Features: h * w, Classes: data.IDXClasses}, spec.Image{C: 1, H: h, W: w}, nil
}

// withFile opens path and calls read on it; errors name the file.
func withFile(path string, read func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	if err := read(f); err != nil {
		return fmt.Errorf("dataset: %s: %w", path, err)
	}
	return nil
}

// loadCIFAR reads CIFAR-10 batches.
func loadCIFAR(files []spec.File) (pool, testPool data.Set, shape spec.Image, err error) {
	shape = spec.Image{C: 3, H: 32, W: 32}
	var trainFiles, testFiles []string
	for _, f := range files {
		if strings.HasPrefix(f.Role, "train_") {
			trainFiles = append(trainFiles, f.Path)
		} else {
			testFiles = append(testFiles, f.Path)
		}
	}
	if pool, err = data.LoadCIFAR10(trainFiles...); err != nil {
		return data.Set{}, data.Set{}, spec.Image{}, fmt.Errorf("dataset: %w", err)
	}
	if len(testFiles) > 0 {
		if testPool, err = data.LoadCIFAR10(testFiles...); err != nil {
			return data.Set{}, data.Set{}, spec.Image{}, fmt.Errorf("dataset: %w", err)
		}
	}
	return pool, testPool, shape, nil
}
