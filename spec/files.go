package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// File is one file a dataset reads, with its role: "train_images",
// "train_labels", "test_images", "test_labels" for IDX files,
// "train_batches[i]" and "test_batches[i]" for CIFAR-10 batches.
type File struct {
	Role, Path string
}

// Files returns the files the dataset reads, in a fixed order of their
// roles, resolving Dir by looking for the standard file names (each also
// with .gz): a directory with only the t10k pair (or only test_batch.bin) is
// a single training source. Synthetic data reads no file. It fails, naming
// the field, when Dir holds none of the files.
func (d Dataset) Files() ([]File, error) {
	switch {
	case IsIDX(d.Name) && d.Dir == "":
		fs := []File{{"train_images", d.TrainImages}, {"train_labels", d.TrainLabels}}
		if d.TestImages != "" || d.TestLabels != "" {
			fs = append(fs, File{"test_images", d.TestImages}, File{"test_labels", d.TestLabels})
		}
		return fs, nil
	case IsIDX(d.Name):
		at := func(name string) string { return existing(filepath.Join(d.Dir, name)) }
		trI, trL := at("train-images-idx3-ubyte"), at("train-labels-idx1-ubyte")
		teI, teL := at("t10k-images-idx3-ubyte"), at("t10k-labels-idx1-ubyte")
		if trI == "" || trL == "" {
			trI, trL, teI, teL = teI, teL, "", ""
		} else if teI == "" || teL == "" {
			teI, teL = "", ""
		}
		if trI == "" || trL == "" {
			return nil, invalid("dataset.dir", d.Dir,
				"holds no IDX image and label pair (train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz], or the t10k pair)")
		}
		fs := []File{{"train_images", trI}, {"train_labels", trL}}
		if teI != "" {
			fs = append(fs, File{"test_images", teI}, File{"test_labels", teL})
		}
		return fs, nil
	case d.Name == DatasetCIFAR10:
		train, test := d.TrainBatches, d.TestBatches
		if d.Dir != "" {
			train, test = nil, nil
			for i := 1; i <= 5; i++ {
				if p := existing(filepath.Join(d.Dir, fmt.Sprintf("data_batch_%d.bin", i))); p != "" {
					train = append(train, p)
				}
			}
			if p := existing(filepath.Join(d.Dir, "test_batch.bin")); p != "" {
				test = []string{p}
			}
			if len(train) == 0 {
				train, test = test, nil
			}
			if len(train) == 0 {
				return nil, invalid("dataset.dir", d.Dir, "holds no CIFAR-10 batch (data_batch_1.bin … data_batch_5.bin, test_batch.bin)")
			}
		}
		var fs []File
		for i, p := range train {
			fs = append(fs, File{fmt.Sprintf("train_batches[%d]", i), p})
		}
		for i, p := range test {
			fs = append(fs, File{fmt.Sprintf("test_batches[%d]", i), p})
		}
		return fs, nil
	}
	return nil, nil
}

// existing returns the first of path and path+".gz" that exists, or "".
func existing(path string) string {
	for _, p := range []string{path, path + ".gz"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Digest returns the content digest of a file dataset: the lowercase hex
// SHA-256 of the lines "role sha256(file)\n" of its files in the order of
// Files. It depends on the files' bytes as stored (a gzipped copy differs
// from a plain one) and on their roles, not on their paths; synthetic data
// has the digest "". Errors name the field and the file.
func (d Dataset) Digest() (string, error) {
	files, err := d.Files()
	if err != nil || len(files) == 0 {
		return "", err
	}
	h := sha256.New()
	for _, f := range files {
		sum, err := FileDigest(f.Path)
		if err != nil {
			field := "dataset.dir"
			if d.Dir == "" {
				field = "dataset." + f.Role
			}
			return "", fmt.Errorf("%s: %w", field, err)
		}
		fmt.Fprintf(h, "%s %s\n", f.Role, sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FileDigest returns the lowercase hex SHA-256 of a file's content.
func FileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ResolveFiles fills in the content digests of the files the trial reads,
// where they are missing: Dataset.SHA256 and WarmStart.SHA256. It reads the
// files (relative paths from the current directory), so it runs where they
// are; a digest already given is left as it is (the process that runs the
// trial checks it). Errors name the field and say what to do.
func (t *Trial) ResolveFiles() error {
	return resolveFiles(&t.Dataset, &t.WarmStart, "")
}

// ResolveFiles fills in the content digests of the files the sweep's
// trials read (see Trial.ResolveFiles). An axis over warm_start.path (a
// field axis, a linked axis or a random choice) becomes an axis over
// warm_start whose values are the files with their digests, {"path": p,
// "sha256": …}, in its place; an axis over warm_start gets the digests its
// values lack.
func (s *Sweep) ResolveFiles() error {
	if err := resolveFiles(&s.Dataset, &s.Train.WarmStart, "train."); err != nil {
		return err
	}
	resolve := func(path string, raw []json.RawMessage, source string) (string, []json.RawMessage, error) {
		if path != "warm_start.path" && path != "warm_start" {
			return path, raw, nil
		}
		out := make([]json.RawMessage, len(raw))
		for i, r := range raw {
			var w WarmStart
			var err error
			if path == "warm_start" {
				err = json.Unmarshal(r, &w)
			} else {
				err = json.Unmarshal(r, &w.Path)
			}
			if err != nil {
				return "", nil, fmt.Errorf("%s[%d]: %w", source, i, err)
			}
			if w.Path != "" && w.SHA256 == "" {
				if w.SHA256, err = FileDigest(w.Path); err != nil {
					return "", nil, fmt.Errorf("%s[%d]: %w (the file's digest is part of its trials' identity: submit where the file is)", source, i, err)
				}
			}
			if out[i], err = json.Marshal(w); err != nil {
				return "", nil, err
			}
		}
		return "warm_start", out, nil
	}
	groups := append([]*FieldAxes{&s.Grid.Fields}, make([]*FieldAxes, len(s.Grid.Linked))...)
	for g := range s.Grid.Linked {
		groups[g+1] = &s.Grid.Linked[g]
	}
	for g, group := range groups {
		fa := slices.Clone(*group)
		for i, a := range fa {
			source := "grid.axes." + a.Path
			if g > 0 {
				source = fmt.Sprintf("grid.linked[%d].%s", g-1, a.Path)
			}
			p, vs, err := resolve(a.Path, a.Values, source)
			if err != nil {
				return err
			}
			fa[i] = FieldAxis{Path: p, Values: vs}
		}
		*group = fa
	}
	draws := slices.Clone(s.Random.Draws)
	for i, d := range draws {
		if d.Dist != DistChoice {
			continue
		}
		p, vs, err := resolve(d.Path, d.Values, "random.draws."+d.Path+".values")
		if err != nil {
			return err
		}
		draws[i].Path, draws[i].Values = p, vs
	}
	if draws != nil {
		s.Random.Draws = draws
	}
	return nil
}

func resolveFiles(d *Dataset, w *WarmStart, trainPrefix string) error {
	if d.Name != DatasetSynthetic && d.SHA256 == "" {
		sum, err := d.Digest()
		if err != nil {
			return fmt.Errorf("%w (the data set's content digest is part of every trial's identity: "+
				"submit where the files are, or give dataset.sha256)", err)
		}
		d.SHA256 = sum
	}
	if w.Path != "" && w.SHA256 == "" {
		sum, err := FileDigest(w.Path)
		if err != nil {
			return fmt.Errorf("%swarm_start.path: %w (the file's digest is part of every trial's identity: "+
				"submit where the file is, or give %swarm_start.sha256)", trainPrefix, err, trainPrefix)
		}
		w.SHA256 = sum
	}
	return nil
}
