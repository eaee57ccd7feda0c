package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// idxBytes encodes an unsigned-byte IDX file with the given dimensions.
func idxBytes(dims []int, elems []byte) []byte {
	b := []byte{0, 0, idxTypeUint8, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, elems...)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// smallIDX returns n 2×3 images with pixel (i, j) = 10·i + j and labels i mod 10.
func smallIDX(n int) (images, labels []byte) {
	px := make([]byte, n*6)
	for i := range px {
		px[i] = byte(10*(i/6) + i%6)
	}
	y := make([]byte, n)
	for i := range y {
		y[i] = byte(i % 10)
	}
	return idxBytes([]int{n, 2, 3}, px), idxBytes([]int{n}, y)
}

func TestReadIDXPlainAndGzip(t *testing.T) {
	img, lab := smallIDX(12)
	for _, gz := range []bool{false, true} {
		i, l := img, lab
		if gz {
			i, l = gzipBytes(t, img), gzipBytes(t, lab)
		}
		s, err := ReadIDX(bytes.NewReader(i), bytes.NewReader(l))
		if err != nil {
			t.Fatalf("gzip=%v: %v", gz, err)
		}
		if s.Len() != 12 || s.Features != 6 || s.Classes != IDXClasses || len(s.X) != 72 {
			t.Fatalf("gzip=%v: got %d examples, %d features, %d classes, %d inputs",
				gz, s.Len(), s.Features, s.Classes, len(s.X))
		}
		for n := range 12 {
			if s.Y[n] != n%10 {
				t.Errorf("gzip=%v: label %d = %d, want %d", gz, n, s.Y[n], n%10)
			}
			for j, v := range s.Row(n) {
				if want := float64(10*n+j) / 255; v != want {
					t.Fatalf("gzip=%v: X[%d][%d] = %v, want %v", gz, n, j, v, want)
				}
			}
		}
	}
}

func TestLoadIDXFiles(t *testing.T) {
	dir := t.TempDir()
	img, lab := smallIDX(5)
	// Compression is detected from the content, not the name: a gzip file
	// without .gz and a plain file with .gz both load.
	ip, lp := filepath.Join(dir, "img.idx3-ubyte"), filepath.Join(dir, "lab.idx1-ubyte.gz")
	if err := os.WriteFile(ip, gzipBytes(t, img), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lp, lab, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadIDX(ip, lp)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 5 || s.Features != 6 {
		t.Fatalf("got %d×%d", s.Len(), s.Features)
	}

	// Errors name the file.
	_, lab4 := smallIDX(4)
	bad := filepath.Join(dir, "bad-labels")
	if err := os.WriteFile(bad, lab4[:len(lab4)-1], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadIDX(ip, bad)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), bad) {
		t.Errorf("truncated label file: err = %v, want ErrFormat naming %s", err, bad)
	}
	_, err = LoadIDX(ip, filepath.Join(dir, "missing"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: err = %v", err)
	}
	mis := filepath.Join(dir, "lab4")
	if err := os.WriteFile(mis, lab4, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadIDX(ip, mis)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "5 images but") {
		t.Errorf("count mismatch: err = %v", err)
	}
}

func TestReadIDXCorrupt(t *testing.T) {
	img, lab := smallIDX(4)
	withByte := func(b []byte, i int, v byte) []byte {
		c := slices.Clone(b)
		c[i] = v
		return c
	}
	huge := idxBytes([]int{1 << 31, 28, 28}, make([]byte, 100))
	badCRC := gzipBytes(t, img)
	badCRC[len(badCRC)-5] ^= 0xFF // last byte of the CRC-32 trailer
	cases := []struct {
		name          string
		images, label []byte
		want          string
	}{
		{"empty file", nil, lab, "magic number"},
		{"short magic", img[:3], lab, "magic number"},
		{"labels magic as images", lab, lab, "magic number 00000801, want 00000803"},
		{"images magic as labels", img, img, "magic number 00000803, want 00000801"},
		{"wrong element type", withByte(img, 2, 0x0D), lab, "want 00000803"},
		{"nonzero first magic byte", withByte(img, 0, 1), lab, "magic number"},
		{"truncated header", img[:10], lab, "header"},
		{"truncated pixels", img[:len(img)-1], lab, "truncated: the header promises 24 data bytes, the file holds 23"},
		{"trailing bytes", append(slices.Clone(img), 0), lab, "trailing bytes"},
		{"label out of range", img, withByte(lab, len(lab)-1, 10), "label 10 of example 3"},
		{"zero images", idxBytes([]int{0, 2, 3}, nil), lab, "empty data set"},
		{"zero labels", img, idxBytes([]int{0}, nil), "empty data set"},
		{"zero columns", idxBytes([]int{4, 2, 0}, nil), lab, "dimension 2 is zero"},
		{"count mismatch", img, idxBytes([]int{3}, []byte{1, 2, 3}), "4 images but 3 labels"},
		{"huge header", huge, lab, "truncated: the header promises 1683627180032 data bytes, the file holds 100"},
		{"huge header gzip", gzipBytes(t, huge), lab, "the file holds 100"},
		{"truncated gzip", gzipBytes(t, img)[:20], lab, "truncated or corrupt"},
		{"gzip bad checksum", badCRC, lab, "truncated or corrupt"},
		{"gzip magic only", []byte{0x1f, 0x8b}, lab, "gzip header"},
	}
	for _, c := range cases {
		_, err := ReadIDX(bytes.NewReader(c.images), bytes.NewReader(c.label))
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", c.name, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %q, want it to mention %q", c.name, err, c.want)
		}
	}
}

// TestReadIDXHugeHeaderAllocation checks that a header claiming 2^31 images
// allocates memory in proportion to the bytes present, not to the claim.
func TestReadIDXHugeHeaderAllocation(t *testing.T) {
	b := idxBytes([]int{1 << 31, 28, 28}, make([]byte, 1000))
	for _, in := range [][]byte{b, gzipBytes(t, b)} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, _, _, err := ReadIDXImages(bytes.NewReader(in)); !errors.Is(err, ErrFormat) {
			t.Fatalf("err = %v, want ErrFormat", err)
		}
		runtime.ReadMemStats(&after)
		// The claim is 2^31·784 bytes (and 8× that as floats); reading must
		// cost memory in proportion to the 1000 bytes present (plus the gzip
		// reader's fixed buffers), far below 1 MiB.
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("allocated %d bytes for a %d-byte file", n, len(in))
		}
	}
}

// errReader fails after its content.
type errReader struct {
	r   io.Reader
	err error
}

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func TestReadIDXIOError(t *testing.T) {
	img, _ := smallIDX(4)
	boom := errors.New("disk on fire")
	_, _, _, err := ReadIDXImages(errReader{bytes.NewReader(img[:20]), boom})
	if !errors.Is(err, boom) || errors.Is(err, ErrFormat) {
		t.Errorf("err = %v, want the I/O error and not ErrFormat", err)
	}
}

// mnistDir is the shared real-data fixture, relative to this package.
const mnistDir = "../../../shared/data/mnist"

func TestMNISTTestSplit(t *testing.T) {
	ip := filepath.Join(mnistDir, "t10k-images-idx3-ubyte.gz")
	lp := filepath.Join(mnistDir, "t10k-labels-idx1-ubyte.gz")
	if _, err := os.Stat(lp); err != nil {
		t.Skipf("MNIST fixture not available (%v); expected at /work/shared/data/mnist", err)
	}
	s, err := LoadIDX(ip, lp)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 10000 || s.Features != 784 || s.Classes != 10 || len(s.X) != 10000*784 {
		t.Fatalf("got %d examples × %d features, %d classes", s.Len(), s.Features, s.Classes)
	}
	counts := s.ClassCounts()
	sum := 0
	for _, c := range counts {
		sum += c
	}
	// Published class counts of the MNIST test set.
	want := []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}
	if sum != 10000 || !slices.Equal(counts, want) {
		t.Errorf("class counts %v (sum %d), want %v", counts, sum, want)
	}

	// Read the first label and the first image independently: gunzip and
	// index past the headers by hand.
	raw := func(p string) []byte {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	labels, images := raw(lp), raw(ip)
	if s.Y[0] != int(labels[8]) || s.Y[0] != 7 || s.Y[9999] != int(labels[8+9999]) {
		t.Errorf("first label %d, raw byte %d (the MNIST test set starts with a 7)", s.Y[0], labels[8])
	}
	var ink float64
	for j, v := range s.Row(0) {
		if want := float64(images[16+j]) / 255; v != want {
			t.Fatalf("pixel %d = %v, want %v", j, v, want)
		}
		if v < 0 || v > 1 {
			t.Fatalf("pixel %d = %v outside [0, 1]", j, v)
		}
		ink += v
	}
	if ink == 0 {
		t.Error("first image is blank")
	}

	train, test, err := s.Split(8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 8000 || test.Len() != 2000 {
		t.Errorf("split %d/%d", train.Len(), test.Len())
	}
}

// FuzzReadIDX feeds arbitrary bytes, plain and gzip-wrapped, to the IDX
// readers and requires an error or a consistent result, never a panic.
func FuzzReadIDX(f *testing.F) {
	img, lab := smallIDX(3)
	f.Add(img)
	f.Add(lab)
	f.Add(img[:7])
	f.Add(idxBytes([]int{1 << 31, 28, 28}, []byte{1, 2, 3}))
	f.Add(idxBytes([]int{0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, nil))
	f.Add(gzipBytes(f, img))
	f.Add(gzipBytes(f, lab)[:15])
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if x, rows, cols, err := ReadIDXImages(bytes.NewReader(b)); err == nil {
			if rows < 1 || cols < 1 || len(x) == 0 || len(x)%(rows*cols) != 0 {
				t.Fatalf("inconsistent images: %d values of %d×%d", len(x), rows, cols)
			}
		}
		if y, err := ReadIDXLabels(bytes.NewReader(b)); err == nil {
			for _, v := range y {
				if v < 0 || v >= IDXClasses {
					t.Fatalf("label %d", v)
				}
			}
		}
		_, _ = ReadCIFAR10(bytes.NewReader(b))
	})
}
