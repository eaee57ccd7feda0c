package data

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cifarRecords returns n records with label (first+i) mod 10 and pixel j of
// record i equal to (i + j) mod 256.
func cifarRecords(n, first int) []byte {
	b := make([]byte, 0, n*CIFARRecordSize)
	for i := range n {
		b = append(b, byte((first+i)%10))
		for j := range CIFARFeatures {
			b = append(b, byte(i+j))
		}
	}
	return b
}

func TestReadCIFAR10(t *testing.T) {
	for _, gz := range []bool{false, true} {
		b := cifarRecords(3, 8)
		if gz {
			b = gzipBytes(t, b)
		}
		s, err := ReadCIFAR10(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip=%v: %v", gz, err)
		}
		if s.Len() != 3 || s.Features != 3072 || s.Classes != 10 || len(s.X) != 3*3072 {
			t.Fatalf("gzip=%v: %d×%d, %d classes", gz, s.Len(), s.Features, s.Classes)
		}
		if !slices.Equal(s.Y, []int{8, 9, 0}) {
			t.Errorf("gzip=%v: labels %v", gz, s.Y)
		}
		// Red plane first, then green (offset 1024), then blue (2048).
		for _, j := range []int{0, 1023, 1024, 2048, 3071} {
			if got, want := s.Row(2)[j], float64(byte(2+j))/255; got != want {
				t.Errorf("gzip=%v: X[2][%d] = %v, want %v", gz, j, got, want)
			}
		}
	}
}

func TestLoadCIFAR10Concatenates(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "data_batch_1.bin"), filepath.Join(dir, "data_batch_2.bin")
	if err := os.WriteFile(p1, cifarRecords(2, 0), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p2, gzipBytes(t, cifarRecords(3, 5)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadCIFAR10(p1, p2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Y, []int{0, 1, 5, 6, 7}) || len(s.X) != 5*CIFARFeatures {
		t.Fatalf("labels %v, %d inputs", s.Y, len(s.X))
	}
	if got, want := s.Row(2)[10], float64(10)/255; got != want {
		t.Errorf("first record of the second file: X[10] = %v, want %v", got, want)
	}
	// One file holding both batches back to back reads the same.
	both := filepath.Join(dir, "both.bin")
	if err := os.WriteFile(both, append(cifarRecords(2, 0), cifarRecords(3, 5)...), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := LoadCIFAR10(both)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.X, s2.X) || !slices.Equal(s.Y, s2.Y) {
		t.Error("concatenated file differs from two files")
	}

	bad := filepath.Join(dir, "bad.bin")
	if err := os.WriteFile(bad, cifarRecords(2, 0)[:CIFARRecordSize+5], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCIFAR10(p1, bad); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), bad) {
		t.Errorf("truncated second file: err = %v, want ErrFormat naming it", err)
	}
	if _, err := LoadCIFAR10(); !errors.Is(err, ErrFormat) {
		t.Errorf("no files: err = %v", err)
	}
}

func TestReadCIFAR10Corrupt(t *testing.T) {
	badLabel := cifarRecords(3, 0)
	badLabel[2*CIFARRecordSize] = 10
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"truncated", cifarRecords(2, 0)[:2*CIFARRecordSize-1], "1 records and 3072 bytes over"},
		{"label out of range", badLabel, "record 2 has label 10"},
		{"truncated gzip", gzipBytes(t, cifarRecords(2, 0))[:30], "truncated or corrupt"},
	}
	for _, c := range cases {
		_, err := ReadCIFAR10(bytes.NewReader(c.b))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrFormat mentioning %q", c.name, err, c.want)
		}
	}
}

// TestReadCIFAR10Cap checks the record cap (here 100 records) on a gzip bomb
// of 1 GiB of zeros (valid records of label 0): reading stops one byte after
// the cap, having inflated and allocated in proportion to the cap only, and
// the cap counts the records of the files read before.
func TestReadCIFAR10Cap(t *testing.T) {
	const maxRecords = 100
	bomb := gzipBomb(t, nil, 1<<30)
	cr := &countingReader{r: bytes.NewReader(bomb)}
	var s Set
	if got := allocated(func() {
		err := appendCIFAR10(&s, cr, maxRecords)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "more than the cap of 100 records (307200 pixels)") {
			t.Errorf("err = %v, want ErrFormat naming the cap", err)
		}
	}); got > 4*maxRecords*CIFARRecordSize+1<<20 {
		t.Errorf("allocated %d bytes for a cap of %d records", got, maxRecords)
	}
	if cr.n > 64<<10 {
		t.Errorf("read %d of the bomb's %d compressed bytes; want the cap's worth", cr.n, len(bomb))
	}

	for _, c := range []struct {
		before, more int
		want         string
	}{
		{0, 100, ""},
		{0, 101, "more than the cap of 100 records (307200 pixels)"},
		{60, 40, ""},
		{60, 41, "more than the cap of 100 records (307200 pixels) with the 60 records of the previous files"},
		{100, 1, "with the 100 records of the previous files"},
	} {
		s := Set{Features: CIFARFeatures, Classes: CIFARClasses}
		if c.before > 0 {
			if err := appendCIFAR10(&s, bytes.NewReader(cifarRecords(c.before, 0)), maxRecords); err != nil {
				t.Fatal(err)
			}
		}
		err := appendCIFAR10(&s, bytes.NewReader(gzipBytes(t, cifarRecords(c.more, 0))), maxRecords)
		switch {
		case c.want == "" && (err != nil || s.Len() != c.before+c.more || len(s.X) != s.Len()*CIFARFeatures):
			t.Errorf("%d then %d records: err = %v, %d records and %d values", c.before, c.more, err, s.Len(), len(s.X))
		case c.want != "" && (!errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%d then %d records: err = %v, want ErrFormat mentioning %q", c.before, c.more, err, c.want)
		}
	}
}
