package weights

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
)

// Errors returned by this package; the messages wrapping them say which
// tensor or field is at fault and what was expected.
var (
	// ErrFormat is returned when safetensors data are malformed: a header
	// length beyond the file, invalid or duplicated JSON, inconsistent shapes
	// and offsets, or a data section not covered exactly by the tensors.
	ErrFormat = errors.New("weights: malformed safetensors data")
	// ErrUnsupported is returned for a dtype other than F64, F32 and I64, or for a
	// network layer that has parameters but is not an *nn.Dense, an
	// *nn.Conv2D or an *nn.Residual of such layers (or a residual block whose
	// body changes between flat and image activations).
	ErrUnsupported = errors.New("weights: unsupported")
	// ErrTensor is returned by Write for an invalid tensor: a duplicate or
	// reserved name, a negative dimension, a data length that does not match
	// the shape, or a value out of float32 range when writing F32.
	ErrTensor = errors.New("weights: invalid tensor")
	// ErrMismatch is returned by Import and Load when the tensors do not fit
	// the network: a missing tensor, an extra tensor, or a wrong shape.
	ErrMismatch = errors.New("weights: tensors do not match the network")
)

// Caps on what a safetensors file may claim; a header claiming more is
// refused (ErrFormat) before any data are read.
const (
	// MaxHeaderSize is the largest header accepted, as in the reference
	// implementation (100 MB).
	MaxHeaderSize = 100_000_000
	// MaxValues is the most values (elements of all the tensors together) a
	// file may hold: 2^28, the parameter cap of a trial's network, which is
	// 2 GiB of F64 data (1 GiB of F32) and 2 GiB once decoded to float64.
	MaxValues = 1 << 28
)

// readAhead is the most memory reserved for a part of the file before its
// bytes are actually read: buffers grow with the bytes present, never with
// what a (possibly corrupt) header claims.
const readAhead = 1 << 16

// metadataKey is the reserved header entry holding the free-form metadata.
const metadataKey = "__metadata__"

// Dtype is a safetensors element type.
type Dtype string

// Supported element types.
const (
	F64 Dtype = "F64" // IEEE 754 binary64, little-endian
	F32 Dtype = "F32" // IEEE 754 binary32, little-endian
	I64 Dtype = "I64" // two's-complement int64, little-endian (counters such as num_batches_tracked)
)

// size returns the bytes per element of a supported dtype, or 0.
func (d Dtype) size() int {
	switch d {
	case F64, I64:
		return 8
	case F32:
		return 4
	}
	return 0
}

// Tensor is a named tensor of the given Shape whose elements are stored
// row-major in Data (len(Data) is the product of Shape, 1 for a scalar with
// Shape []). Dtype is I64 for an integer tensor (Read sets it; Write stores
// such a tensor as int64, its values integers of magnitude ≤ 2⁵³) and empty
// for a floating-point one (F64 or F32 in the file).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float64
	Dtype Dtype
}

// maxExactInt is 2⁵³, the largest magnitude up to which every integer is a
// float64.
const maxExactInt = 1 << 53

// dtypeIn returns the element type of t in a file of floating-point type
// dtype.
func (t Tensor) dtypeIn(dtype Dtype) Dtype {
	if t.Dtype == I64 {
		return I64
	}
	return dtype
}

// numElements returns the product of shape, or an error on a negative
// dimension or overflow beyond limit.
func numElements(shape []int, limit int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d > 0 && n > limit/d {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n *= d
	}
	return n, nil
}

// Write writes tensors and metadata (nil or empty for none) to w in the
// safetensors format with dtype F64, which stores float64 values exactly.
func Write(w io.Writer, tensors []Tensor, meta map[string]string) error {
	return WriteAs(w, F64, tensors, meta)
}

// WriteAs is Write with the element type dtype (F64 or F32). With F32 each
// value is rounded to the nearest float32; a finite value beyond the float32
// range is an error (ErrTensor) rather than a silent infinity.
func WriteAs(w io.Writer, dtype Dtype, tensors []Tensor, meta map[string]string) error {
	size := dtype.size()
	if dtype != F64 && dtype != F32 {
		return fmt.Errorf("%w: dtype %q (want F64 or F32)", ErrUnsupported, dtype)
	}
	sorted := slices.Clone(tensors)
	slices.SortFunc(sorted, func(a, b Tensor) int { // descending alignment, then name
		return cmp.Or(cmp.Compare(b.dtypeIn(dtype).size(), a.dtypeIn(dtype).size()), cmp.Compare(a.Name, b.Name))
	})
	for i, t := range sorted {
		if t.Name == metadataKey {
			return fmt.Errorf("%w: the name %q is reserved", ErrTensor, metadataKey)
		}
		for j := range i {
			if sorted[j].Name == t.Name {
				return fmt.Errorf("%w: duplicate name %q", ErrTensor, t.Name)
			}
		}
		if t.Dtype != "" && t.Dtype != I64 {
			return fmt.Errorf("%w: %q has dtype %q (want I64 or empty)", ErrTensor, t.Name, t.Dtype)
		}
		n, err := numElements(t.Shape, math.MaxInt/size)
		if err != nil {
			return fmt.Errorf("%w: %q: %w", ErrTensor, t.Name, err)
		}
		if n != len(t.Data) {
			return fmt.Errorf("%w: %q has shape %v (%d elements) but %d values", ErrTensor, t.Name, t.Shape, n, len(t.Data))
		}
		if t.Dtype == I64 {
			for _, v := range t.Data {
				if v != math.Trunc(v) || math.Abs(v) > maxExactInt {
					return fmt.Errorf("%w: integer tensor %q holds %g", ErrTensor, t.Name, v)
				}
			}
		} else if dtype == F32 {
			for _, v := range t.Data {
				if math.Abs(v) > math.MaxFloat32 && !math.IsInf(v, 0) && math.IsInf(float64(float32(v)), 0) {
					return fmt.Errorf("%w: %q holds %g, beyond the float32 range", ErrTensor, t.Name, v)
				}
			}
		}
	}
	bw := bufio.NewWriter(w)
	header := encodeHeader(sorted, meta, dtype)
	bw.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(header))))
	bw.Write(header)
	var buf [8]byte
	for _, t := range sorted {
		dt := t.dtypeIn(dtype)
		for _, v := range t.Data {
			switch dt {
			case F32:
				binary.LittleEndian.PutUint32(buf[:], math.Float32bits(float32(v)))
			case I64:
				binary.LittleEndian.PutUint64(buf[:], uint64(int64(v)))
			default:
				binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
			}
			bw.Write(buf[:dt.size()])
		}
	}
	if err := bw.Flush(); err != nil { // bufio keeps the first write error
		return fmt.Errorf("weights: writing safetensors: %w", err)
	}
	return nil
}

// encodeHeader returns the compact JSON header padded with spaces to a
// multiple of 8 bytes.
func encodeHeader(sorted []Tensor, meta map[string]string, dtype Dtype) []byte {
	h := []byte{'{'}
	if len(meta) > 0 {
		h = append(appendJSONString(h, metadataKey), ":{"...)
		for i, k := range slices.Sorted(maps.Keys(meta)) {
			if i > 0 {
				h = append(h, ',')
			}
			h = append(appendJSONString(h, k), ':')
			h = appendJSONString(h, meta[k])
		}
		h = append(h, '}')
	}
	off := 0
	for i, t := range sorted {
		if i > 0 || len(meta) > 0 {
			h = append(h, ',')
		}
		dt := t.dtypeIn(dtype)
		h = append(appendJSONString(h, t.Name), `:{"dtype":"`...)
		h = append(append(h, dt...), `","shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, int64(d), 10)
		}
		end := off + len(t.Data)*dt.size()
		h = append(h, `],"data_offsets":[`...)
		h = append(strconv.AppendInt(h, int64(off), 10), ',')
		h = append(strconv.AppendInt(h, int64(end), 10), "]}"...)
		off = end
	}
	h = append(h, '}')
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	return h
}

// appendJSONString appends s as a JSON string without HTML escaping, like
// serde_json.
func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // cannot fail for a string
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...)
}

// Read reads a safetensors stream from r (see Decode, whose checks and
// errors it shares; trailing bytes are reported without their count). It
// reads the header, checks it, then reads the data section the header
// describes and one byte more (to detect trailing bytes), never further, so
// its memory grows with the bytes actually present and stays within the caps
// (MaxHeaderSize, MaxValues) whatever the header claims. An error reading r
// is returned wrapped, without ErrFormat.
func Read(r io.Reader) ([]Tensor, map[string]string, error) {
	var head [8]byte
	if k, err := io.ReadFull(r, head[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%w: %d bytes, too short for the 8-byte header length", ErrFormat, k)
		}
		return nil, nil, fmt.Errorf("weights: reading safetensors: %w", err)
	}
	n := binary.LittleEndian.Uint64(head[:])
	if n > MaxHeaderSize {
		return nil, nil, fmt.Errorf("%w: header length %d exceeds the limit of %d bytes", ErrFormat, n, MaxHeaderSize)
	}
	h, err := readUpTo(r, int64(n))
	if err != nil {
		return nil, nil, err
	}
	if uint64(len(h)) < n {
		return nil, nil, fmt.Errorf("%w: header length %d runs beyond the end of the %d-byte file", ErrFormat, n, 8+len(h))
	}
	infos, meta, dataLen, err := decodeHeader(h)
	if err != nil {
		return nil, nil, err
	}
	data, err := readUpTo(r, int64(dataLen)+1)
	if err != nil {
		return nil, nil, err
	}
	if len(data) > dataLen {
		return nil, nil, fmt.Errorf("%w: the tensors cover %d bytes but the data section is longer (trailing bytes)",
			ErrFormat, dataLen)
	}
	return decodeData(infos, meta, data)
}

// readUpTo reads at most size bytes from r; memory grows with the bytes
// read, not with size.
func readUpTo(r io.Reader, size int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(size, readAhead)))
	if _, err := buf.ReadFrom(io.LimitReader(r, size)); err != nil {
		return nil, fmt.Errorf("weights: reading safetensors: %w", err)
	}
	return buf.Bytes(), nil
}

// tensorInfo is one validated header entry.
type tensorInfo struct {
	name       string
	dtype      Dtype
	shape      []int
	begin, end int
}

// Decode parses safetensors bytes and returns the tensors in the order of
// their data offsets (the file order) and the metadata (nil when absent). F32
// values are converted to float64 exactly. All validation errors wrap
// ErrFormat, except an unsupported dtype, which wraps ErrUnsupported. A
// header claiming more than MaxValues values is refused.
func Decode(b []byte) ([]Tensor, map[string]string, error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("%w: %d bytes, too short for the 8-byte header length", ErrFormat, len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxHeaderSize {
		return nil, nil, fmt.Errorf("%w: header length %d exceeds the limit of %d bytes", ErrFormat, n, MaxHeaderSize)
	}
	if n > uint64(len(b)-8) {
		return nil, nil, fmt.Errorf("%w: header length %d runs beyond the end of the %d-byte file", ErrFormat, n, len(b))
	}
	infos, meta, _, err := decodeHeader(b[8 : 8+n])
	if err != nil {
		return nil, nil, err
	}
	return decodeData(infos, meta, b[8+n:])
}

// decodeHeader parses the header h and checks what it claims by itself: at
// most MaxValues values, in tensors that tile their data section without
// overlap or hole. It returns the tensors sorted by offset and the length of
// the data section they claim.
func decodeHeader(h []byte) (infos []tensorInfo, meta map[string]string, dataLen int, err error) {
	infos, meta, err = parseHeader(h)
	if err != nil {
		return nil, nil, 0, err
	}
	values := 0
	for _, in := range infos {
		values += (in.end - in.begin) / in.dtype.size() // < MaxValues + MaxInt/4: no overflow
		if values > MaxValues {
			return nil, nil, 0, fmt.Errorf("%w: the header claims %d values up to tensor %q (shape %v), more than the cap of %d",
				ErrFormat, values, in.name, in.shape, MaxValues)
		}
		dataLen = max(dataLen, in.end)
	}
	if err := checkLayout(infos, dataLen); err != nil {
		return nil, nil, 0, err
	}
	return infos, meta, dataLen, nil
}

// decodeData checks that data is the data section the header's tensors
// (sorted by offset) tile and decodes their values.
func decodeData(infos []tensorInfo, meta map[string]string, data []byte) ([]Tensor, map[string]string, error) {
	if err := checkLayout(infos, len(data)); err != nil {
		return nil, nil, err
	}
	tensors := make([]Tensor, len(infos))
	for i, in := range infos {
		tensors[i] = Tensor{Name: in.name, Shape: in.shape, Data: decodeValues(in.dtype, data[in.begin:in.end])}
		if in.dtype == I64 {
			tensors[i].Dtype = I64
		}
	}
	return tensors, meta, nil
}

// decodeValues converts little-endian F64, F32 or I64 bytes to float64
// (integers beyond 2⁵³ are rounded).
func decodeValues(dtype Dtype, b []byte) []float64 {
	size := dtype.size()
	out := make([]float64, len(b)/size)
	for i := range out {
		switch dtype {
		case F32:
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		case I64:
			out[i] = float64(int64(binary.LittleEndian.Uint64(b[8*i:])))
		default:
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
	}
	return out
}

// checkLayout sorts infos by offsets and checks that they tile the dataLen
// bytes of the data section exactly.
func checkLayout(infos []tensorInfo, dataLen int) error {
	slices.SortStableFunc(infos, func(a, b tensorInfo) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name))
	})
	pos := 0
	for _, in := range infos {
		switch {
		case in.begin < pos:
			return fmt.Errorf("%w: tensor %q at bytes [%d, %d) overlaps the previous tensor, which ends at %d",
				ErrFormat, in.name, in.begin, in.end, pos)
		case in.begin > pos:
			return fmt.Errorf("%w: hole in the data section: bytes [%d, %d) belong to no tensor (next is %q)",
				ErrFormat, pos, in.begin, in.name)
		case in.end > dataLen:
			return fmt.Errorf("%w: tensor %q ends at byte %d, beyond the %d-byte data section (truncated file?)",
				ErrFormat, in.name, in.end, dataLen)
		}
		pos = in.end
	}
	if pos != dataLen {
		return fmt.Errorf("%w: the tensors cover %d bytes but the data section has %d (trailing bytes)",
			ErrFormat, pos, dataLen)
	}
	return nil
}
