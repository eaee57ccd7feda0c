package weights

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// file assembles a safetensors file from a header string and data bytes,
// with the header length taken from the header as given (no padding).
func file(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func f32Bytes(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func f64Bytes(vs ...float64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

// sameTensors compares names, shapes and the bits of every value.
func sameTensors(a, b []Tensor) bool {
	return slices.EqualFunc(a, b, func(x, y Tensor) bool {
		return x.Name == y.Name && slices.Equal(x.Shape, y.Shape) &&
			slices.EqualFunc(x.Data, y.Data, func(u, v float64) bool { return math.Float64bits(u) == math.Float64bits(v) })
	})
}

// TestReferenceBytes checks the writer against byte strings from the test
// suite of the reference implementation (huggingface/safetensors,
// safetensors/src/tensor.rs: test_serialization,
// test_serialization_forced_alignement and test_empty).
func TestReferenceBytes(t *testing.T) {
	data := f32Bytes(0, 1, 2, 3, 4, 5)
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    []byte
	}{
		{
			"attn.0 (header already aligned)",
			[]Tensor{{Name: "attn.0", Shape: []int{1, 2, 3}, Data: []float64{0, 1, 2, 3, 4, 5}}}, nil,
			append([]byte{64, 0, 0, 0, 0, 0, 0, 0,
				123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50,
				34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95,
				111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125}, data...),
		},
		{
			"attn0 (padded with 7 spaces)",
			[]Tensor{{Name: "attn0", Shape: []int{1, 1, 2, 3}, Data: []float64{0, 1, 2, 3, 4, 5}}}, nil,
			append([]byte{72, 0, 0, 0, 0, 0, 0, 0,
				123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34,
				44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97,
				95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125,
				32, 32, 32, 32, 32, 32, 32}, data...),
		},
		{"empty", nil, nil, []byte{8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32}},
		{
			"empty with metadata", nil, map[string]string{"framework": "pt"},
			[]byte{40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58,
				123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125,
				32, 32, 32, 32, 32},
		},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := WriteAs(&buf, F32, c.tensors, c.meta); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.Equal(buf.Bytes(), c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, buf.Bytes(), c.want)
		}
		ts, meta, err := Decode(c.want)
		if err != nil {
			t.Fatalf("%s: decode: %v", c.name, err)
		}
		if !sameTensors(ts, c.tensors) || len(meta) != len(c.meta) || meta["framework"] != c.meta["framework"] {
			t.Errorf("%s: decoded %v %v", c.name, ts, meta)
		}
	}
}

// TestHandcraftedF64 checks Write against a file laid out by hand: two F64
// tensors in name order, metadata first, header padded to 8 bytes.
func TestHandcraftedF64(t *testing.T) {
	header := `{"__metadata__":{"a<b":"x&y","format":"pt"},` +
		`"0.bias":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},` +
		`"0.weight":{"dtype":"F64","shape":[1,2],"data_offsets":[8,24]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	want := file(header, f64Bytes(-0.5, 1.25, math.Inf(-1)))
	tensors := []Tensor{ // deliberately not in name order
		{Name: "0.weight", Shape: []int{1, 2}, Data: []float64{1.25, math.Inf(-1)}},
		{Name: "0.bias", Shape: []int{1}, Data: []float64{-0.5}},
	}
	var buf bytes.Buffer
	if err := Write(&buf, tensors, map[string]string{"format": "pt", "a<b": "x&y"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("\n got %q\nwant %q", buf.Bytes(), want)
	}
	ts, meta, err := Read(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if !sameTensors(ts, []Tensor{tensors[1], tensors[0]}) || meta["a<b"] != "x&y" || meta["format"] != "pt" {
		t.Errorf("read back %v %v", ts, meta)
	}
}

func TestDecodeEdgeCases(t *testing.T) {
	// Unpadded header, reversed header order, a scalar, an empty tensor and
	// a null shape / metadata are all valid.
	h := `{"__metadata__":null,"b":{"dtype":"F32","shape":[],"data_offsets":[8,12]},` +
		`"e":{"dtype":"F64","shape":[0,3],"data_offsets":[8,8]},` +
		`"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`
	ts, meta, err := Decode(file(h, append(f64Bytes(2), f32Bytes(0.1)...)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Tensor{
		{Name: "a", Shape: []int{1}, Data: []float64{2}},
		{Name: "e", Shape: []int{0, 3}, Data: []float64{}},
		{Name: "b", Shape: []int{}, Data: []float64{float64(float32(0.1))}},
	}
	if !sameTensors(ts, want) || meta != nil {
		t.Errorf("got %v %v, want %v", ts, meta, want)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	ok := `{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}`
	d16 := f64Bytes(1, 2)
	hugeLen := binary.LittleEndian.AppendUint64(nil, 1<<40)
	beyond := binary.LittleEndian.AppendUint64(nil, 100)
	cases := []struct {
		name string
		b    []byte
		err  error
		want string
	}{
		{"empty", nil, ErrFormat, "too short"},
		{"header length beyond file", append(beyond, "{}"...), ErrFormat, "header length 100 runs beyond"},
		{"header length huge", append(hugeLen, "{}"...), ErrFormat, "exceeds the limit"},
		{"header not an object", file(`["a"]`, nil), ErrFormat, "does not start with '{'"},
		{"leading space", file(` {}`, nil), ErrFormat, "does not start with '{'"},
		{"invalid JSON", file(`{"a":`, nil), ErrFormat, `tensor "a": unexpected EOF`},
		{"unterminated object", file(`{"a":{"dtype":"F64","shape":[0],"data_offsets":[0,0]}`, nil), ErrFormat, "header JSON"},
		{"invalid UTF-8", file("{\"\xff\":1}", nil), ErrFormat, "UTF-8"},
		{"junk after object", file(`{} x`, nil), ErrFormat, "not whitespace"},
		{"duplicate name", file(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},`+
			`"a":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}`, d16), ErrFormat, `duplicate name "a"`},
		{"duplicate metadata", file(`{"__metadata__":{"k":"1","k":"2"}}`, nil), ErrFormat, `duplicate metadata key "k"`},
		{"metadata not string", file(`{"__metadata__":{"k":1}}`, nil), ErrFormat, `metadata "k" is not a string`},
		{"metadata not object", file(`{"__metadata__":[1]}`, nil), ErrFormat, "want an object"},
		{"unsupported dtype", file(`{"a":{"dtype":"I32","shape":[4],"data_offsets":[0,16]}}`, d16), ErrUnsupported, `dtype "I32"`},
		{"bf16", file(`{"a":{"dtype":"BF16","shape":[8],"data_offsets":[0,16]}}`, d16), ErrUnsupported, `dtype "BF16"`},
		{"missing field", file(`{"a":{"dtype":"F64","shape":[2]}}`, d16), ErrFormat, "lacks"},
		{"three offsets", file(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16,3]}}`, d16), ErrFormat, "3 data_offsets"},
		{"reversed offsets", file(`{"a":{"dtype":"F64","shape":[0],"data_offsets":[16,0]}}`, d16), ErrFormat, "data_offsets [16, 0]"},
		{"negative dimension", file(`{"a":{"dtype":"F64","shape":[-2],"data_offsets":[0,16]}}`, d16), ErrFormat, "negative dimension"},
		{"fractional dimension", file(`{"a":{"dtype":"F64","shape":[1.5],"data_offsets":[0,16]}}`, d16), ErrFormat, `tensor "a"`},
		{"shape overflow", file(`{"a":{"dtype":"F64","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}}`, d16),
			ErrFormat, "too many elements"},
		{"shape vs bytes", file(`{"a":{"dtype":"F64","shape":[3],"data_offsets":[0,16]}}`, d16), ErrFormat, "needs 24 bytes"},
		{"f32 vs f64 size", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}`, d16), ErrFormat, "needs 8 bytes"},
		{"overlap", file(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},`+
			`"b":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}`, d16), ErrFormat, "overlaps"},
		{"hole", file(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}`, d16), ErrFormat, "hole"},
		{"trailing bytes", file(ok, append(d16, 0)), ErrFormat, "trailing bytes"},
		{"truncated data", file(ok, d16[:15]), ErrFormat, "beyond the 15-byte data section"},
		{"offsets far out", file(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[9223372036854775800,9223372036854775808]}}`, d16),
			ErrFormat, `tensor "a"`},
	}
	for _, c := range cases {
		_, _, err := Decode(c.b)
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Decode: err = %v, want %v mentioning %q", c.name, err, c.err, c.want)
		}
		_, _, err = Read(bytes.NewReader(c.b))
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Read: err = %v, want %v mentioning %q", c.name, err, c.err, c.want)
		}
	}
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

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// allocated returns the bytes allocated while fn runs.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestReadCaps checks that Read and Decode refuse a header claiming more than
// MaxValues values, and that Read allocates in proportion to the bytes
// present, not to a header's claim, within the cap.
func TestReadCaps(t *testing.T) {
	over := file(fmt.Sprintf(`{"a":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]},`+
		`"b":{"dtype":"F64","shape":[1],"data_offsets":[%d,%d]}}`, MaxValues, 4*MaxValues, 4*MaxValues, 4*MaxValues+8), f64Bytes(1, 2))
	want := fmt.Sprintf(`the header claims %d values up to tensor `, MaxValues+1)
	if _, _, err := Decode(over); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), want) ||
		!strings.Contains(err.Error(), fmt.Sprintf("more than the cap of %d", MaxValues)) {
		t.Errorf("Decode over the cap: err = %v, want ErrFormat mentioning %q and the cap", err, want)
	}
	// Over the cap, Read stops after the header however much data follow.
	cr := &countingReader{r: io.MultiReader(bytes.NewReader(over), zeros{})}
	if n := allocated(func() {
		if _, _, err := Read(cr); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), want) {
			t.Errorf("Read over the cap: err = %v, want ErrFormat mentioning %q", err, want)
		}
	}); n > 1<<20 {
		t.Errorf("Read over the cap allocated %d bytes", n)
	}
	if hl := 8 + int64(binary.LittleEndian.Uint64(over)); cr.n > hl+readAhead {
		t.Errorf("Read over the cap read %d bytes of a %d-byte header and its data", cr.n, hl)
	}

	// At the cap (2 GiB of F64 data claimed), a file holding 16 bytes of
	// data costs memory for those, not for the claim.
	atCap := file(fmt.Sprintf(`{"a":{"dtype":"F64","shape":[%d],"data_offsets":[0,%d]}}`, MaxValues, 8*MaxValues), f64Bytes(1, 2))
	if n := allocated(func() {
		if _, _, err := Read(bytes.NewReader(atCap)); !errors.Is(err, ErrFormat) ||
			!strings.Contains(err.Error(), "beyond the 16-byte data section") {
			t.Errorf("Read at the cap: err = %v, want a truncated data section", err)
		}
	}); n > 1<<20 {
		t.Errorf("Read of a 16-byte data section claimed as %d bytes allocated %d bytes", 8*MaxValues, n)
	}

	// A header claiming 100 MB that the file does not hold costs no more.
	short := append(binary.LittleEndian.AppendUint64(nil, MaxHeaderSize), "{}"...)
	if n := allocated(func() {
		if _, _, err := Read(bytes.NewReader(short)); !errors.Is(err, ErrFormat) ||
			!strings.Contains(err.Error(), "runs beyond the end of the 10-byte file") {
			t.Errorf("Read of a short header: err = %v", err)
		}
	}); n > 1<<20 {
		t.Errorf("Read of a 2-byte header claimed as %d bytes allocated %d bytes", MaxHeaderSize, n)
	}
}

// TestReadStopsAfterDataSection checks that Read reads one byte past the data
// section the header describes and no more: an endless stream fails at once.
func TestReadStopsAfterDataSection(t *testing.T) {
	b := file(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}`, nil)
	cr := &countingReader{r: io.MultiReader(bytes.NewReader(b), io.LimitReader(zeros{}, 1<<30))}
	_, _, err := Read(cr)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "the tensors cover 16 bytes but the data section is longer") {
		t.Errorf("err = %v, want trailing bytes", err)
	}
	if want := int64(len(b)) + 16 + 1; cr.n != want {
		t.Errorf("Read consumed %d bytes, want %d (header, data section and one byte)", cr.n, want)
	}
}

// errAfter fails with err once its content is read.
type errAfter struct {
	r   io.Reader
	err error
}

func (e errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func TestReadIOError(t *testing.T) {
	b := file(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}`, f64Bytes(1, 2))
	boom := errors.New("disk on fire")
	for _, cut := range []int{3, 20, len(b) - 4} {
		_, _, err := Read(errAfter{bytes.NewReader(b[:cut]), boom})
		if !errors.Is(err, boom) || errors.Is(err, ErrFormat) {
			t.Errorf("cut at %d: err = %v, want the I/O error and not ErrFormat", cut, err)
		}
	}
}

// failWriter fails every write.
type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteInvalid(t *testing.T) {
	one := []float64{1}
	cases := []struct {
		name    string
		dtype   Dtype
		tensors []Tensor
		err     error
		want    string
	}{
		{"duplicate", F64, []Tensor{{Name: "a", Shape: []int{1}, Data: one}, {Name: "a", Shape: []int{1}, Data: one}}, ErrTensor, `duplicate name "a"`},
		{"reserved", F64, []Tensor{{Name: "__metadata__", Shape: []int{1}, Data: one}}, ErrTensor, "reserved"},
		{"length", F64, []Tensor{{Name: "a", Shape: []int{2}, Data: one}}, ErrTensor, "2 elements) but 1 values"},
		{"negative", F64, []Tensor{{Name: "a", Shape: []int{-1}}}, ErrTensor, "negative dimension"},
		{"f32 overflow", F32, []Tensor{{Name: "a", Shape: []int{1}, Data: []float64{1e300}}}, ErrTensor, "float32 range"},
		{"dtype", "F16", nil, ErrUnsupported, `"F16"`},
		{"file dtype I64", I64, nil, ErrUnsupported, `"I64"`},
		{"tensor dtype", F64, []Tensor{{Name: "a", Shape: []int{1}, Data: one, Dtype: F32}}, ErrTensor, `dtype "F32"`},
		{"fractional int", F64, []Tensor{{Name: "a", Shape: []int{1}, Data: []float64{0.5}, Dtype: I64}}, ErrTensor, "integer tensor"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		err := WriteAs(&buf, c.dtype, c.tensors, nil)
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %v mentioning %q", c.name, err, c.err, c.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: %d bytes written before the error", c.name, buf.Len())
		}
	}
	if err := Write(failWriter{}, []Tensor{{Name: "a", Shape: []int{1}, Data: one}}, nil); !errors.Is(err, errDiskFull) {
		t.Errorf("writer error: %v", err)
	}
	// Infinities and NaN are values, not range errors, in F32 too.
	var buf bytes.Buffer
	in := []Tensor{{Name: "a", Shape: []int{3}, Data: []float64{math.Inf(1), math.NaN(), math.Copysign(0, -1)}}}
	if err := WriteAs(&buf, F32, in, nil); err != nil {
		t.Fatal(err)
	}
	ts, _, err := Decode(buf.Bytes())
	if err != nil || !math.IsInf(ts[0].Data[0], 1) || !math.IsNaN(ts[0].Data[1]) || !math.Signbit(ts[0].Data[2]) {
		t.Errorf("special values: %v %v", ts, err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	in := []Tensor{
		{Name: "z", Shape: []int{2, 2}, Data: []float64{math.Pi, -math.SmallestNonzeroFloat64, math.MaxFloat64, math.Copysign(0, -1)}},
		{Name: "scalar", Shape: []int{}, Data: []float64{math.E}},
		{Name: "empty", Shape: []int{3, 0}, Data: []float64{}},
		{Name: "ünï cödé \"quoted\"", Shape: []int{1}, Data: []float64{math.NaN()}},
	}
	var buf bytes.Buffer
	if err := Write(&buf, in, map[string]string{"k": "v\n\"w\""}); err != nil {
		t.Fatal(err)
	}
	if (binary.LittleEndian.Uint64(buf.Bytes())+8)%8 != 0 {
		t.Error("data section not 8-byte aligned")
	}
	out, meta, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(in)
	slices.SortFunc(sorted, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	if !sameTensors(out, sorted) || meta["k"] != "v\n\"w\"" {
		t.Errorf("round trip:\n got %v %v\nwant %v", out, meta, sorted)
	}
}
