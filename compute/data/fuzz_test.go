package data

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

// fuzzSeeds adds the inputs of the reader tests to f's corpus: valid IDX
// files and CIFAR-10 records, plain and gzip, and the corrupt ones.
func fuzzSeeds(f *testing.F) {
	img, lab := smallIDX(3)
	rec := cifarRecords(2, 8)
	for _, b := range [][]byte{
		img, lab, rec,
		img[:7], img[:10], img[:len(img)-1], append(bytes.Clone(img), 0),
		idxBytes([]int{1 << 31, 28, 28}, []byte{1, 2, 3}),
		idxBytes([]int{0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, nil),
		idxBytes([]int{MaxValues / 784, 28, 28}, make([]byte, 100)),
		idxBytes([]int{MaxExamples + 1}, nil),
		idxBytes([]int{0, 2, 3}, nil),
		idxBytes([]int{2}, []byte{3, 10}),
		rec[:CIFARRecordSize+5],
		{0x1f, 0x8b},
		{},
	} {
		f.Add(b)
		f.Add(gzipBytes(f, b))
	}
	f.Add(gzipBytes(f, lab)[:15])
	f.Add(gzipBomb(f, idxBytes([]int{3, 2, 3}, nil), 1<<16))
}

// inflated returns how many bytes b amounts to: its length, or if it is gzip
// what it inflates to (as far as it is valid; at most 1 GiB).
func inflated(b []byte) int64 {
	n := int64(len(b))
	if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
		m, _ := io.Copy(io.Discard, io.LimitReader(zr, 1<<30))
		n = max(n, m)
	}
	return n
}

// checkAllocated fails t when read allocated more than a small multiple of
// the bytes b amounts to (pixels become 8-byte floats, labels 8-byte ints,
// and buffers grow by doubling), plus the fixed cost of the gzip reader:
// memory follows the bytes present, never a header's claim.
func checkAllocated(t *testing.T, b []byte, read func()) {
	t.Helper()
	if got, limit := allocated(read), 16*uint64(inflated(b))+1<<20; got > limit {
		t.Fatalf("allocated %d bytes reading %d bytes (%d inflated), more than %d", got, len(b), inflated(b), limit)
	}
}

// FuzzReadIDXImages requires ReadIDXImages never to panic, to allocate in
// proportion to its input, and to return a consistent result or an error.
func FuzzReadIDXImages(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAllocated(t, b, func() {
			x, rows, cols, err := ReadIDXImages(bytes.NewReader(b))
			if err != nil {
				return
			}
			if rows < 1 || cols < 1 || len(x) == 0 || len(x)%(rows*cols) != 0 || len(x) > MaxValues ||
				len(x)/(rows*cols) > MaxExamples {
				t.Fatalf("inconsistent images: %d values of %d×%d", len(x), rows, cols)
			}
			for i, v := range x {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("pixel %d = %v", i, v)
				}
			}
		})
	})
}

// FuzzReadIDXLabels requires ReadIDXLabels never to panic, to allocate in
// proportion to its input, and to return labels in range or an error.
func FuzzReadIDXLabels(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAllocated(t, b, func() {
			y, err := ReadIDXLabels(bytes.NewReader(b))
			if err != nil {
				return
			}
			if len(y) == 0 || len(y) > MaxExamples {
				t.Fatalf("%d labels", len(y))
			}
			for _, v := range y {
				if v < 0 || v >= IDXClasses {
					t.Fatalf("label %d", v)
				}
			}
		})
	})
}

// FuzzReadCIFAR10 requires ReadCIFAR10 never to panic, to allocate in
// proportion to its input, and to return a consistent Set or an error.
func FuzzReadCIFAR10(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAllocated(t, b, func() {
			s, err := ReadCIFAR10(bytes.NewReader(b))
			if err != nil {
				return
			}
			if s.Len() == 0 || s.Len() > maxCIFARRecords || len(s.X) != s.Len()*CIFARFeatures ||
				s.Features != CIFARFeatures || s.Classes != CIFARClasses {
				t.Fatalf("inconsistent set: %d labels, %d values, %d features, %d classes",
					s.Len(), len(s.X), s.Features, s.Classes)
			}
			for _, v := range s.Y {
				if v < 0 || v >= CIFARClasses {
					t.Fatalf("label %d", v)
				}
			}
		})
	})
}
