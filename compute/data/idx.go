package data

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
)

// IDX files (MNIST, Fashion-MNIST, KMNIST) start with a 4-byte magic number
// 0x00 0x00 T D, where T is the element type (0x08: unsigned byte, the only
// type these data sets use) and D the number of dimensions, followed by D
// big-endian uint32 sizes and then the elements in row-major order:
//
//	images (idx3-ubyte): 00 00 08 03 | n | rows | cols | n·rows·cols pixels
//	labels (idx1-ubyte): 00 00 08 01 | n | n labels
//
// Files may be gzip-compressed; compression is detected from the gzip magic
// bytes 1f 8b, never from the file name (an IDX file always starts with 00).

// ErrFormat is returned when a data file is malformed: a wrong magic number or
// dimension count, a file shorter or longer than its header promises, a corrupt
// gzip stream, labels out of range, mismatched image and label counts, or an
// empty data set. The message says what was found and what was expected.
var ErrFormat = errors.New("data: malformed data file")

// IDXClasses is the number of classes of every Set read from IDX files. It is
// fixed rather than taken as max label + 1 so that the output width of a
// network does not depend on which labels happen to occur in a (small or
// subsampled) file; every MNIST-format data set (MNIST, Fashion-MNIST, KMNIST)
// has ten classes, and a label ≥ IDXClasses is reported as an error.
const IDXClasses = 10

// Caps on what the data files read into one Set may hold. They bound the
// memory a file can make a reader allocate, whatever its header claims and
// however well it compresses: an IDX file whose header claims more is refused
// (ErrFormat) before any of its data are read; CIFAR-10 batches, which have no
// header, are read up to the cap and one byte more. They match the limits a
// valid trial spec puts on the data it uses: at most 2^24 examples
// (n + n_test) and 2^28 input values ((n + n_test)·features).
const (
	// MaxExamples is the most examples one IDX file may hold (images or
	// labels).
	MaxExamples = 1 << 24
	// MaxValues is the most input values (pixels) one IDX image file, or the
	// CIFAR-10 batches read into one Set, may hold: 256 MiB of unsigned bytes
	// in the files, 2 GiB once expanded to float64. For 28×28 images it
	// allows 342 392 images (MNIST has 70 000); for CIFAR-10, 87 381 records
	// (CIFAR-10 has 60 000).
	MaxValues = 1 << 28
)

const (
	idxTypeUint8 = 0x08
	// readAhead is the most memory reserved before the data are actually read:
	// buffers grow with the bytes really present, never with what a (possibly
	// corrupt) header claims.
	readAhead = 1 << 16
)

// maybeGunzip returns a reader of the decompressed content of r if r starts
// with the gzip magic bytes, and of r itself otherwise.
func maybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
		return br, nil // short files fail later with a precise message
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, readError("gzip header", err)
	}
	return zr, nil
}

// readError wraps err from reading what; errors that mean the content is
// corrupt or cut short also wrap ErrFormat.
func readError(what string, err error) error {
	var corrupt flate.CorruptInputError
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &corrupt) {
		return fmt.Errorf("%w: %s: truncated or corrupt: %w", ErrFormat, what, err)
	}
	return fmt.Errorf("data: reading %s: %w", what, err)
}

// readExactly reads the rest of r, which must hold exactly size bytes. It
// reads through an io.LimitReader of size+1 bytes, so a longer (or endless,
// or highly compressed) stream stops right after the declared size, and its
// memory grows with the bytes actually read, so a header claiming more than
// the file holds cannot cause a large allocation.
func readExactly(r io.Reader, size int64, what string) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(size+1, readAhead)))
	if _, err := buf.ReadFrom(io.LimitReader(r, size+1)); err != nil {
		return nil, readError(what, err)
	}
	switch n := int64(buf.Len()); {
	case n < size:
		return nil, fmt.Errorf("%w: %s: truncated: the header promises %d data bytes, the file holds %d",
			ErrFormat, what, size, n)
	case n > size:
		return nil, fmt.Errorf("%w: %s: trailing bytes after the %d data bytes the header promises",
			ErrFormat, what, size)
	}
	return buf.Bytes(), nil
}

// readIDX reads an unsigned-byte IDX file with wantDims dimensions, whose
// first dimension counts items ("images", "labels"), and returns its sizes and
// elements. A header claiming more than MaxExamples items or MaxValues
// elements is refused before any element is read.
func readIDX(r io.Reader, wantDims int, what, items string) (dims []int, elems []byte, err error) {
	r, err = maybeGunzip(r)
	if err != nil {
		return nil, nil, err
	}
	head := make([]byte, 4+4*wantDims)
	if _, err := io.ReadFull(r, head[:4]); err != nil {
		return nil, nil, readError(what+" magic number", err)
	}
	want := [4]byte{0, 0, idxTypeUint8, byte(wantDims)}
	if got := [4]byte(head[:4]); got != want {
		return nil, nil, fmt.Errorf("%w: %s: magic number %08x, want %08x (unsigned-byte IDX with %d dimensions)",
			ErrFormat, what, binary.BigEndian.Uint32(got[:]), binary.BigEndian.Uint32(want[:]), wantDims)
	}
	if _, err := io.ReadFull(r, head[4:]); err != nil {
		return nil, nil, readError(what+" header", err)
	}
	dims = make([]int, wantDims)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(head[4+4*i:]))
		if dims[i] == 0 {
			return nil, nil, fmt.Errorf("%w: %s: dimension %d is zero (empty data set)", ErrFormat, what, i)
		}
	}
	if dims[0] > MaxExamples {
		return nil, nil, fmt.Errorf("%w: %s: the header claims %d %s, more than the cap of %d examples",
			ErrFormat, what, dims[0], items, MaxExamples)
	}
	size := 1
	for _, d := range dims {
		if size > MaxValues/d { // size ≤ MaxValues: no overflow
			return nil, nil, fmt.Errorf("%w: %s: the header claims %d %s of %s pixels (%s pixels), more than the cap of %d",
				ErrFormat, what, dims[0], items, idxShape(dims[1:]), product(dims), MaxValues)
		}
		size *= d
	}
	elems, err = readExactly(r, int64(size), what)
	return dims, elems, err
}

// idxShape formats the dimensions of one item: "28×28".
func idxShape(dims []int) string {
	s := make([]string, len(dims))
	for i, d := range dims {
		s[i] = strconv.Itoa(d)
	}
	return strings.Join(s, "×")
}

// product returns the exact product of dims in decimal.
func product(dims []int) string {
	p := big.NewInt(1)
	for _, d := range dims {
		p.Mul(p, big.NewInt(int64(d)))
	}
	return p.String()
}

// ReadIDXImages reads an idx3-ubyte image file (plain or gzip) and returns the
// pixels of its n images as a row-major n×(rows·cols) matrix scaled to [0, 1]
// (pixel/255), together with the image height and width.
func ReadIDXImages(r io.Reader) (x []float64, rows, cols int, err error) {
	dims, px, err := readIDX(r, 3, "idx3 images", "images")
	if err != nil {
		return nil, 0, 0, err
	}
	x = make([]float64, len(px))
	for i, p := range px {
		x[i] = float64(p) / 255
	}
	return x, dims[1], dims[2], nil
}

// ReadIDXLabels reads an idx1-ubyte label file (plain or gzip). Every label
// must be below IDXClasses.
func ReadIDXLabels(r io.Reader) ([]int, error) {
	_, b, err := readIDX(r, 1, "idx1 labels", "labels")
	if err != nil {
		return nil, err
	}
	y := make([]int, len(b))
	for i, v := range b {
		if int(v) >= IDXClasses {
			return nil, fmt.Errorf("%w: idx1 labels: label %d of example %d is not in [0, %d)",
				ErrFormat, v, i, IDXClasses)
		}
		y[i] = int(v)
	}
	return y, nil
}

// ReadIDX reads an image file and its label file (each plain or gzip) into a
// Set with Features = rows·cols and Classes = IDXClasses. Both files must hold
// the same, non-zero, number of examples.
func ReadIDX(images, labels io.Reader) (Set, error) {
	x, rows, cols, err := ReadIDXImages(images)
	if err != nil {
		return Set{}, err
	}
	y, err := ReadIDXLabels(labels)
	if err != nil {
		return Set{}, err
	}
	if n := len(x) / (rows * cols); n != len(y) {
		return Set{}, fmt.Errorf("%w: %d images but %d labels", ErrFormat, n, len(y))
	}
	return Set{X: x, Y: y, Features: rows * cols, Classes: IDXClasses}, nil
}

// LoadIDX reads the IDX image and label files at the given paths (see
// ReadIDX). Errors name the offending file.
func LoadIDX(imagesPath, labelsPath string) (Set, error) {
	var x []float64
	var rows, cols int
	err := withFile(imagesPath, func(f io.Reader) (err error) {
		x, rows, cols, err = ReadIDXImages(f)
		return err
	})
	if err != nil {
		return Set{}, err
	}
	var y []int
	err = withFile(labelsPath, func(f io.Reader) (err error) {
		y, err = ReadIDXLabels(f)
		return err
	})
	if err != nil {
		return Set{}, err
	}
	if n := len(x) / (rows * cols); n != len(y) {
		return Set{}, fmt.Errorf("%w: %s holds %d images but %s holds %d labels",
			ErrFormat, imagesPath, n, labelsPath, len(y))
	}
	return Set{X: x, Y: y, Features: rows * cols, Classes: IDXClasses}, nil
}

// withFile opens path, calls read on it and closes it; errors are prefixed
// with the path.
func withFile(path string, read func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("data: %w", err) // *PathError names the file
	}
	defer f.Close()
	if err := read(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
