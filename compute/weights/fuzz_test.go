package weights

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// fuzzSeeds adds the files of the reader tests to f's corpus: valid files
// (F64, F32, metadata, scalars, empty tensors) and the corrupt ones of
// TestDecodeCorrupt's kinds.
func fuzzSeeds(f *testing.F) {
	d16 := f64Bytes(1, 2)
	for _, b := range [][]byte{
		file(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}`, d16),
		file(`{"__metadata__":{"k":"v"},"b":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, f32Bytes(3)),
		file(`{"__metadata__":null,"b":{"dtype":"F32","shape":[],"data_offsets":[8,12]},`+
			`"e":{"dtype":"F64","shape":[0,3],"data_offsets":[8,8]},`+
			`"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, append(f64Bytes(2), f32Bytes(0.1)...)),
		file(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}`, d16),
		file(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}`, d16),
		file(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}`, append(d16, 0)),
		file(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}`, d16[:15]),
		file(`{"a":{"dtype":"I32","shape":[4],"data_offsets":[0,16]}}`, d16),
		file(`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,16]}}`, d16),
		file(fmt.Sprintf(`{"a":{"dtype":"F64","shape":[%d],"data_offsets":[0,%d]}}`, MaxValues, 8*MaxValues), d16),
		file(fmt.Sprintf(`{"a":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]},"b":{"dtype":"F32","shape":[1],"data_offsets":[%[2]d,%d]}}`,
			MaxValues, 4*MaxValues, 4*MaxValues+4), d16),
		file(`{"__metadata__":{"k":"1","k":"2"}}`, nil),
		file(`{} x`, nil),
		file(`{}`, nil),
		append(f64Bytes(0)[:7], 100),
		{255, 255, 255, 255, 255, 255, 255, 255},
		{},
	} {
		f.Add(b)
	}
}

// FuzzDecode requires Decode never to panic, and every file it accepts to
// survive a Write/Decode round trip unchanged.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, meta, err := Decode(b)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, ts, meta); err != nil {
			t.Fatalf("re-encoding accepted tensors: %v", err)
		}
		ts2, _, err := Decode(buf.Bytes())
		if err != nil {
			t.Fatalf("decoding re-encoded file: %v", err)
		}
		slices.SortStableFunc(ts, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
		if !sameTensors(ts, ts2) {
			t.Fatalf("round trip changed tensors: %v vs %v", ts, ts2)
		}
	})
}

// FuzzRead requires Read never to panic, to allocate in proportion to its
// input whatever the header claims, and to agree with Decode: the same
// tensors and metadata, or an error of the same kind.
func FuzzRead(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var ts []Tensor
		var meta map[string]string
		var err error
		// Values become float64 (twice the bytes of F32) and buffers grow by
		// doubling; the header's JSON costs a few times its length.
		if n := allocated(func() { ts, meta, err = Read(bytes.NewReader(b)) }); n > 64*uint64(len(b))+1<<20 {
			t.Fatalf("allocated %d bytes reading %d", n, len(b))
		}
		ts2, meta2, err2 := Decode(b)
		switch {
		case (err == nil) != (err2 == nil):
			t.Fatalf("Read: %v, Decode: %v", err, err2)
		case err != nil:
			for _, kind := range []error{ErrFormat, ErrUnsupported} {
				if errors.Is(err, kind) != errors.Is(err2, kind) {
					t.Fatalf("Read: %v, Decode: %v", err, err2)
				}
			}
		case !sameTensors(ts, ts2) || fmt.Sprint(meta) != fmt.Sprint(meta2):
			t.Fatalf("Read gave %v %v, Decode %v %v", ts, meta, ts2, meta2)
		}
	})
}
