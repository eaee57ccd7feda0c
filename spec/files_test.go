package spec_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// writeFiles writes small dummy files (their content is their name) to dir.
func writeFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("content of "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func files(t *testing.T, d spec.Dataset) []spec.File {
	t.Helper()
	fs, err := d.Files()
	if err != nil {
		t.Fatalf("Files(%+v): %v", d, err)
	}
	return fs
}

// TestDatasetFiles: the roles of a dataset's files, from a directory (with
// the full IDX set, only the t10k pair, gzipped files, CIFAR-10 batches) and
// from explicit paths.
func TestDatasetFiles(t *testing.T) {
	full := t.TempDir()
	writeFiles(t, full, "train-images-idx3-ubyte", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte")
	at := func(dir, name string) string { return filepath.Join(dir, name) }
	want := []spec.File{
		{Role: "train_images", Path: at(full, "train-images-idx3-ubyte")},
		{Role: "train_labels", Path: at(full, "train-labels-idx1-ubyte.gz")},
		{Role: "test_images", Path: at(full, "t10k-images-idx3-ubyte.gz")},
		{Role: "test_labels", Path: at(full, "t10k-labels-idx1-ubyte")},
	}
	if got := files(t, spec.Dataset{Name: "mnist", Dir: full}); !reflect.DeepEqual(got, want) {
		t.Errorf("full IDX set:\n got %v\nwant %v", got, want)
	}
	// A plain file is preferred to its gzipped copy.
	writeFiles(t, full, "train-labels-idx1-ubyte")
	if got := files(t, spec.Dataset{Name: "kmnist", Dir: full}); got[1].Path != at(full, "train-labels-idx1-ubyte") {
		t.Errorf("plain and gzipped: %v", got)
	}

	t10k := t.TempDir()
	writeFiles(t, t10k, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
	want = []spec.File{{Role: "train_images", Path: at(t10k, "t10k-images-idx3-ubyte")}, {Role: "train_labels", Path: at(t10k, "t10k-labels-idx1-ubyte")}}
	if got := files(t, spec.Dataset{Name: "fashion-mnist", Dir: t10k}); !reflect.DeepEqual(got, want) {
		t.Errorf("t10k pair only:\n got %v\nwant %v", got, want)
	}
	// A training pair with half a test pair: the test half is ignored.
	train := t.TempDir()
	writeFiles(t, train, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte")
	if got := files(t, spec.Dataset{Name: "mnist", Dir: train}); len(got) != 2 || got[0].Path != at(train, "train-images-idx3-ubyte") {
		t.Errorf("train pair and half a test pair: %v", got)
	}
	// Half a pair is no source.
	half := t.TempDir()
	writeFiles(t, half, "train-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
	_, err := spec.Dataset{Name: "mnist", Dir: half}.Files()
	if fe := fieldError(t, "half pairs", err); fe != nil && (fe.Field != "dataset.dir" || fe.Value != fmt.Sprintf("%q", half)) {
		t.Errorf("half pairs: %v", fe)
	}
	if _, err := (spec.Dataset{Name: "mnist", Dir: t.TempDir()}).Files(); fieldError(t, "empty dir", err) == nil {
		t.Error("empty dir accepted")
	}

	// Explicit IDX paths.
	explicit := spec.Dataset{Name: "mnist", TrainImages: "a", TrainLabels: "b"}
	if got := files(t, explicit); !reflect.DeepEqual(got, []spec.File{{"train_images", "a"}, {"train_labels", "b"}}) {
		t.Errorf("explicit pair: %v", got)
	}
	explicit.TestImages, explicit.TestLabels = "c", "d"
	if got := files(t, explicit); !reflect.DeepEqual(got, []spec.File{{"train_images", "a"}, {"train_labels", "b"}, {"test_images", "c"}, {"test_labels", "d"}}) {
		t.Errorf("explicit pairs: %v", got)
	}

	// CIFAR-10 batches.
	cifar := t.TempDir()
	writeFiles(t, cifar, "data_batch_1.bin", "data_batch_3.bin.gz", "test_batch.bin", "batches.meta.txt")
	want = []spec.File{{"train_batches[0]", at(cifar, "data_batch_1.bin")}, {"train_batches[1]", at(cifar, "data_batch_3.bin.gz")},
		{"test_batches[0]", at(cifar, "test_batch.bin")}}
	if got := files(t, spec.Dataset{Name: "cifar10", Dir: cifar}); !reflect.DeepEqual(got, want) {
		t.Errorf("cifar dir:\n got %v\nwant %v", got, want)
	}
	testOnly := t.TempDir()
	writeFiles(t, testOnly, "test_batch.bin")
	if got := files(t, spec.Dataset{Name: "cifar10", Dir: testOnly}); !reflect.DeepEqual(got, []spec.File{{"train_batches[0]", at(testOnly, "test_batch.bin")}}) {
		t.Errorf("cifar test batch only: %v", got)
	}
	_, err = spec.Dataset{Name: "cifar10", Dir: t10k}.Files()
	if fe := fieldError(t, "cifar without batches", err); fe != nil && fe.Field != "dataset.dir" {
		t.Errorf("cifar without batches: %v", fe)
	}
	got := files(t, spec.Dataset{Name: "cifar10", TrainBatches: []string{"x", "y"}, TestBatches: []string{"z"}})
	if !reflect.DeepEqual(got, []spec.File{{"train_batches[0]", "x"}, {"train_batches[1]", "y"}, {"test_batches[0]", "z"}}) {
		t.Errorf("explicit batches: %v", got)
	}

	if fs, err := (spec.Dataset{Name: "synthetic", N: 10}).Files(); fs != nil || err != nil {
		t.Errorf("synthetic: %v, %v", fs, err)
	}
}

// refDigest is Dataset.Digest written out: the SHA-256 of "role sha256\n"
// lines.
func refDigest(t *testing.T, fs []spec.File) string {
	t.Helper()
	var lines strings.Builder
	for _, f := range fs {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(&lines, "%s %s\n", f.Role, hex.EncodeToString(sum[:]))
	}
	sum := sha256.Sum256([]byte(lines.String()))
	return hex.EncodeToString(sum[:])
}

func digest(t *testing.T, d spec.Dataset) string {
	t.Helper()
	s, err := d.Digest()
	if err != nil {
		t.Fatalf("Digest(%+v): %v", d, err)
	}
	return s
}

// TestDatasetDigest: the digest is that of the files' contents and roles,
// whatever their paths.
func TestDatasetDigest(t *testing.T) {
	names := []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}
	a := t.TempDir()
	writeFiles(t, a, names...)
	da := spec.Dataset{Name: "mnist", Dir: a, N: 10, NTest: 5}
	sum := digest(t, da)
	if want := refDigest(t, files(t, da)); sum != want || len(sum) != 64 {
		t.Errorf("Digest = %s, want %s", sum, want)
	}

	// Copied to another directory: the same digest.
	b := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Mkdir(b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		data, _ := os.ReadFile(filepath.Join(a, n))
		if err := os.WriteFile(filepath.Join(b, n), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := da
	db.Dir = b
	if got := digest(t, db); got != sum {
		t.Errorf("copied files: digest %s, want %s", got, sum)
	}
	// The same files named explicitly: the same digest.
	explicit := spec.Dataset{Name: "mnist", TrainImages: filepath.Join(b, names[0]), TrainLabels: filepath.Join(b, names[1]),
		TestImages: filepath.Join(b, names[2]), TestLabels: filepath.Join(b, names[3])}
	if got := digest(t, explicit); got != sum {
		t.Errorf("explicit paths: digest %s, want %s", got, sum)
	}
	// The roles count: the same files in other roles differ.
	swapped := explicit
	swapped.TrainImages, swapped.TestImages = explicit.TestImages, explicit.TrainImages
	if got := digest(t, swapped); got == sum {
		t.Error("swapping the train and test images keeps the digest")
	}
	// One byte changed: another digest.
	p := filepath.Join(b, names[3])
	data, _ := os.ReadFile(p)
	data[0] ^= 1
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, db); got == sum {
		t.Error("a changed byte keeps the digest")
	}
	// A missing file names its field.
	explicit.TestLabels = filepath.Join(b, "missing")
	if _, err := explicit.Digest(); err == nil || !strings.HasPrefix(err.Error(), "dataset.test_labels: ") {
		t.Errorf("missing file: %v", err)
	}
	if s, err := (spec.Dataset{Name: "synthetic"}).Digest(); s != "" || err != nil {
		t.Errorf("synthetic: %q, %v", s, err)
	}
	first := sha256.Sum256([]byte("content of " + names[0]))
	if s, err := spec.FileDigest(filepath.Join(a, names[0])); err != nil || s != hex.EncodeToString(first[:]) {
		t.Errorf("FileDigest = %s, %v", s, err)
	}

	// ResolveFiles fills in the digests of the dataset and the warm start
	// and keeps digests already given.
	tr := idxSpec(a)
	tr.WarmStart.Path = filepath.Join(a, names[0])
	if err := tr.ResolveFiles(); err != nil {
		t.Fatal(err)
	}
	if ws, _ := spec.FileDigest(tr.WarmStart.Path); tr.Dataset.SHA256 != sum || tr.WarmStart.SHA256 != ws {
		t.Errorf("ResolveFiles: dataset %s (want %s), warm start %s (want %s)", tr.Dataset.SHA256, sum, tr.WarmStart.SHA256, ws)
	}
	given := idxSpec(a)
	given.Dataset.SHA256 = strings.Repeat("ab", 32)
	if err := given.ResolveFiles(); err != nil || given.Dataset.SHA256 != strings.Repeat("ab", 32) {
		t.Errorf("ResolveFiles replaced a given digest: %s, %v", given.Dataset.SHA256, err)
	}
	missing := idxSpec(t.TempDir())
	if err := missing.ResolveFiles(); err == nil || !strings.Contains(err.Error(), "dataset.dir") || !strings.Contains(err.Error(), "dataset.sha256") {
		t.Errorf("ResolveFiles without files: %v", err)
	}
}

// TestIDContentIdentity: a file dataset's or warm start's paths are left out
// of the trial's identity when (and only when) its digest is given.
func TestIDContentIdentity(t *testing.T) {
	sumA, sumB := strings.Repeat("a", 64), strings.Repeat("b", 64)
	a, b := idxSpec("/data/mnist"), idxSpec("/elsewhere/mnist")
	if spec.ID(a) == spec.ID(b) {
		t.Error("without a digest, the paths are not part of the identity")
	}
	if spec.LegacyID(a) != spec.ID(a) {
		t.Error("without digests, LegacyID differs from ID")
	}
	a.Dataset.SHA256, b.Dataset.SHA256 = sumA, sumA
	if spec.ID(a) != spec.ID(b) {
		t.Error("with the same digest, other paths give another identity")
	}
	if spec.LegacyID(a) == spec.LegacyID(b) {
		t.Error("LegacyID leaves the paths out")
	}
	explicit := idxSpec("")
	explicit.Dataset.TrainImages, explicit.Dataset.TrainLabels = "/x/i", "/x/l"
	explicit.Dataset.SHA256 = sumA
	if spec.ID(explicit) != spec.ID(a) {
		t.Error("explicit paths and a directory with the same digest differ")
	}
	b.Dataset.SHA256 = sumB
	if spec.ID(a) == spec.ID(b) {
		t.Error("another digest gives the same identity")
	}
	id, err := spec.Identity(a)
	if err != nil || strings.Contains(string(id), "/data/mnist") || !strings.Contains(string(id), `"sha256":"`+sumA+`"`) {
		t.Errorf("Identity = %s, %v", id, err)
	}
	if c, _ := spec.Canonical(a); !strings.Contains(string(c), `"dir":"/data/mnist"`) {
		t.Errorf("Canonical lost the path: %s", c)
	}
	if spec.ID(a) != spec.IDOf(id) || !strings.HasPrefix(spec.ID(a), spec.IDPrefix) || len(spec.ID(a)) != len(spec.IDPrefix)+32 {
		t.Errorf("ID %s, IDOf %s", spec.ID(a), spec.IDOf(id))
	}

	// The warm start's path alike.
	w1, w2 := smallSpec(), smallSpec()
	w1.WarmStart.Path, w2.WarmStart.Path = "/w/one.safetensors", "/w/two.safetensors"
	if spec.ID(w1) == spec.ID(w2) {
		t.Error("warm start without a digest: the path is not part of the identity")
	}
	w1.WarmStart.SHA256, w2.WarmStart.SHA256 = sumA, sumA
	if spec.ID(w1) != spec.ID(w2) {
		t.Error("warm start with the same digest: other paths give another identity")
	}
	w2.WarmStart.SHA256 = sumB
	if spec.ID(w1) == spec.ID(w2) {
		t.Error("warm start: another digest gives the same identity")
	}
	// A synthetic trial's identity is its canonical JSON.
	s := smallSpec()
	c, _ := spec.Canonical(s)
	if spec.ID(s) != spec.IDOf(c) {
		t.Error("synthetic: ID is not the hash of the canonical JSON")
	}
}
