package data

import (
	"bytes"
	"fmt"
	"io"
	"slices"
)

// CIFAR-10 binary batches (data_batch_1.bin … data_batch_5.bin,
// test_batch.bin) are sequences of fixed-size records with no header:
//
//	record = label (1 byte, 0–9) | red (1024) | green (1024) | blue (1024)
//
// each colour plane being a 32×32 image in row-major order. A standard batch
// holds 10000 records, but any whole, non-zero number of records is accepted,
// so several batches concatenated into one file (or a small test file) read
// the same way. Like IDX files, a batch may be gzip-compressed (detected from
// its magic bytes; a record never starts with 0x1f because labels are < 10).

// CIFAR-10 record layout.
const (
	CIFARFeatures   = 3 * 32 * 32       // inputs per image: three 32×32 planes
	CIFARRecordSize = 1 + CIFARFeatures // bytes per record: label, then pixels
	CIFARClasses    = 10                // number of classes
)

// maxCIFARRecords is the most CIFAR-10 records one Set may hold: MaxValues
// pixels (87 381 records; a MaxExamples cap would be looser).
const maxCIFARRecords = MaxValues / CIFARFeatures

// ReadCIFAR10 reads CIFAR-10 binary records (plain or gzip) into a Set with
// Features = CIFARFeatures and Classes = CIFARClasses. Row i of X is record i's
// pixels in file order (red plane, green plane, blue plane; the channel-major
// C×H×W layout of a PyTorch image tensor), scaled to [0, 1] by 1/255. A
// stream of more than MaxValues/CIFARFeatures records is refused (ErrFormat)
// as soon as the record after the cap is read.
func ReadCIFAR10(r io.Reader) (Set, error) {
	s := Set{Features: CIFARFeatures, Classes: CIFARClasses}
	if err := appendCIFAR10(&s, r, maxCIFARRecords); err != nil {
		return Set{}, err
	}
	return s, nil
}

// LoadCIFAR10 reads the CIFAR-10 batch files at paths, in order, into one Set
// (see ReadCIFAR10; the cap applies to all the files together). Errors name
// the offending file.
func LoadCIFAR10(paths ...string) (Set, error) {
	if len(paths) == 0 {
		return Set{}, fmt.Errorf("%w: no CIFAR-10 files given", ErrFormat)
	}
	s := Set{Features: CIFARFeatures, Classes: CIFARClasses}
	for _, p := range paths {
		err := withFile(p, func(f io.Reader) error { return appendCIFAR10(&s, f, maxCIFARRecords) })
		if err != nil {
			return Set{}, err
		}
	}
	return s, nil
}

// appendCIFAR10 appends the records of r to s, which may hold at most
// maxRecords records in all. At most the bytes of the records s has room for,
// and one more, are read (and inflated) from r.
func appendCIFAR10(s *Set, r io.Reader, maxRecords int) error {
	r, err := maybeGunzip(r)
	if err != nil {
		return err
	}
	room := max(maxRecords-s.Len(), 0)
	limit := int64(room)*CIFARRecordSize + 1
	var buf bytes.Buffer
	buf.Grow(int(min(limit, readAhead)))
	if _, err := buf.ReadFrom(io.LimitReader(r, limit)); err != nil {
		return readError("CIFAR-10 records", err)
	}
	b := buf.Bytes()
	switch {
	case int64(len(b)) == limit:
		return fmt.Errorf("%w: CIFAR-10 records: more than the cap of %d records (%d pixels)%s",
			ErrFormat, maxRecords, maxRecords*CIFARFeatures, previous(s.Len()))
	case len(b) == 0:
		return fmt.Errorf("%w: CIFAR-10 records: empty file (want a multiple of %d bytes)", ErrFormat, CIFARRecordSize)
	case len(b)%CIFARRecordSize != 0:
		return fmt.Errorf("%w: CIFAR-10 records: %d bytes is not a whole number of %d-byte records "+
			"(%d records and %d bytes over; truncated?)",
			ErrFormat, len(b), CIFARRecordSize, len(b)/CIFARRecordSize, len(b)%CIFARRecordSize)
	}
	n := len(b) / CIFARRecordSize
	s.Y = slices.Grow(s.Y, n)
	s.X = slices.Grow(s.X, n*CIFARFeatures)
	x := s.X[len(s.X) : len(s.X)+n*CIFARFeatures]
	for i := range n {
		rec := b[i*CIFARRecordSize : (i+1)*CIFARRecordSize]
		if rec[0] >= CIFARClasses {
			return fmt.Errorf("%w: CIFAR-10 records: record %d has label %d, want 0–%d",
				ErrFormat, i, rec[0], CIFARClasses-1)
		}
		s.Y = append(s.Y, int(rec[0]))
		for j, p := range rec[1:] {
			x[i*CIFARFeatures+j] = float64(p) / 255
		}
	}
	s.X = s.X[:len(s.X)+n*CIFARFeatures]
	return nil
}

// previous says how many records earlier files gave, if any.
func previous(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" with the %d records of the previous files", n)
}
