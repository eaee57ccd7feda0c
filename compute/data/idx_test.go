package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
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
	wide := idxBytes([]int{1000, 1 << 20, 1 << 20}, make([]byte, 100))
	manyLabels := idxBytes([]int{MaxExamples + 1}, make([]byte, 100))
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
		{"huge header", huge, lab, "idx3 images: the header claims 2147483648 images, more than the cap of 16777216 examples"},
		{"huge header gzip", gzipBytes(t, huge), lab, "more than the cap of 16777216 examples"},
		{"huge images", wide, lab, "idx3 images: the header claims 1000 images of 1048576×1048576 pixels " +
			"(1099511627776000 pixels), more than the cap of 268435456"},
		{"huge labels", img, manyLabels, "idx1 labels: the header claims 16777217 labels, more than the cap of 16777216 examples"},
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

// allocated returns the bytes allocated while fn runs.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestReadIDXHugeHeaderAllocation checks that a header claiming more than
// the file holds, within the caps, allocates memory in proportion to the
// bytes present, not to the claim.
func TestReadIDXHugeHeaderAllocation(t *testing.T) {
	n := MaxValues / (28 * 28) // the most 28×28 images the cap allows
	b := idxBytes([]int{n, 28, 28}, make([]byte, 1000))
	for _, in := range [][]byte{b, gzipBytes(t, b)} {
		if got := allocated(func() {
			_, _, _, err := ReadIDXImages(bytes.NewReader(in))
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "the file holds 1000") {
				t.Errorf("err = %v, want ErrFormat for a truncated file", err)
			}
		}); got > 1<<20 {
			// The claim is n·784 ≈ 2^28 bytes (and 8× that as floats);
			// reading must cost memory in proportion to the 1000 bytes
			// present (plus the gzip reader's fixed buffers), far below 1 MiB.
			t.Errorf("allocated %d bytes for a %d-byte file claiming %d images", got, len(in), n)
		}
	}
}

// gzipBomb returns prefix followed by zeros zero bytes, gzip-compressed. To
// stay fast (also under the race detector), it compresses 1 MiB of zeros once
// and repeats that gzip member: a multi-member stream, which gzip readers
// (and gunzip) read as the concatenation of the members. 1 GiB of zeros takes
// about 1 MB.
func gzipBomb(t testing.TB, prefix []byte, zeros int64) []byte {
	t.Helper()
	const chunk = 1 << 20
	var buf bytes.Buffer
	buf.Write(gzipBytes(t, prefix))
	member := gzipBytes(t, make([]byte, chunk))
	for ; zeros >= chunk; zeros -= chunk {
		buf.Write(member)
	}
	buf.Write(gzipBytes(t, make([]byte, zeros)))
	return buf.Bytes()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestReadIDXGzipBomb checks that a gzip bomb (1 GiB of zeros, about 1 MB
// compressed) after a header declaring 1000 images stops after the declared
// size: an error naming the trailing bytes, with memory and input consumed in
// proportion to the declared size, not to what the bomb inflates to.
func TestReadIDXGzipBomb(t *testing.T) {
	const declared = 1000 * 28 * 28
	bomb := gzipBomb(t, idxBytes([]int{1000, 28, 28}, nil), 1<<30)
	cr := &countingReader{r: bytes.NewReader(bomb)}
	if got := allocated(func() {
		_, _, _, err := ReadIDXImages(cr)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "trailing bytes after the 784000 data bytes") {
			t.Errorf("err = %v, want ErrFormat for trailing bytes", err)
		}
	}); got > 4*declared+1<<20 {
		t.Errorf("allocated %d bytes for a header declaring %d", got, declared)
	}
	// 784 000 zeros take about 800 bytes of the stream; the reader buffers
	// a little more.
	if cr.n > 64<<10 {
		t.Errorf("read %d of the bomb's %d compressed bytes; want the declared 784000 bytes' worth", cr.n, len(bomb))
	}
}

// TestReadIDXCappedBomb checks that a header declaring more than MaxValues
// pixels is refused before any pixel is inflated, even when the (highly
// compressible) data really hold them.
func TestReadIDXCappedBomb(t *testing.T) {
	n := MaxValues/(28*28) + 1
	bomb := gzipBomb(t, idxBytes([]int{n, 28, 28}, nil), int64(n)*28*28)
	cr := &countingReader{r: bytes.NewReader(bomb)}
	if got := allocated(func() {
		_, _, _, err := ReadIDXImages(cr)
		want := fmt.Sprintf("idx3 images: the header claims %d images of 28×28 pixels (%d pixels), more than the cap of %d",
			n, n*28*28, MaxValues)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want ErrFormat mentioning %q", err, want)
		}
	}); got > 1<<20 {
		t.Errorf("allocated %d bytes refusing a header", got)
	}
	if cr.n > 64<<10 {
		t.Errorf("read %d of the bomb's %d compressed bytes before refusing its header", cr.n, len(bomb))
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
