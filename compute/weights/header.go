package weights

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// rawInfo is a header entry as written; pointers detect missing fields.
type rawInfo struct {
	Dtype       *string `json:"dtype"`
	Shape       *[]int  `json:"shape"`
	DataOffsets *[]int  `json:"data_offsets"`
}

// parseHeader decodes the JSON header, rejecting duplicate names (which
// encoding/json would silently merge) and validating each entry.
func parseHeader(h []byte) ([]tensorInfo, map[string]string, error) {
	if len(h) == 0 || h[0] != '{' {
		return nil, nil, fmt.Errorf("%w: the header does not start with '{'", ErrFormat)
	}
	if !utf8.Valid(h) {
		return nil, nil, fmt.Errorf("%w: the header is not valid UTF-8", ErrFormat)
	}
	dec := json.NewDecoder(bytes.NewReader(h))
	if _, err := dec.Token(); err != nil { // the '{' checked above
		return nil, nil, fmt.Errorf("%w: header JSON: %w", ErrFormat, err)
	}
	var infos []tensorInfo
	var meta map[string]string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: header JSON: %w", ErrFormat, err)
		}
		name, ok := tok.(string)
		if !ok { // cannot happen for an object key; kept for safety
			return nil, nil, fmt.Errorf("%w: header JSON: unexpected %v", ErrFormat, tok)
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("%w: duplicate name %q in the header", ErrFormat, name)
		}
		seen[name] = true
		if name == metadataKey {
			if meta, err = parseMetadata(dec); err != nil {
				return nil, nil, err
			}
			continue
		}
		in, err := parseInfo(dec, name)
		if err != nil {
			return nil, nil, err
		}
		infos = append(infos, in)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, fmt.Errorf("%w: header JSON: %w", ErrFormat, err)
	}
	if rest := h[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, nil, fmt.Errorf("%w: header has %d bytes after its JSON object that are not whitespace padding",
			ErrFormat, len(rest))
	}
	return infos, meta, nil
}

// parseMetadata decodes the "__metadata__" value: null or an object of
// strings without duplicate keys.
func parseMetadata(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: header JSON: %w", ErrFormat, err)
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: %q is %v, want an object of strings", ErrFormat, metadataKey, tok)
	}
	meta := map[string]string{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: header JSON: %w", ErrFormat, err)
		}
		k, _ := kt.(string)
		vt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: header JSON: %w", ErrFormat, err)
		}
		v, ok := vt.(string)
		if !ok {
			return nil, fmt.Errorf("%w: metadata %q is not a string", ErrFormat, k)
		}
		if _, dup := meta[k]; dup {
			return nil, fmt.Errorf("%w: duplicate metadata key %q", ErrFormat, k)
		}
		meta[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: header JSON: %w", ErrFormat, err)
	}
	return meta, nil
}

// parseInfo decodes and validates the entry of tensor name.
func parseInfo(dec *json.Decoder, name string) (tensorInfo, error) {
	var raw rawInfo
	if err := dec.Decode(&raw); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the header ended before the entry
		}
		return tensorInfo{}, fmt.Errorf("%w: tensor %q: %w", ErrFormat, name, err)
	}
	if raw.Dtype == nil || raw.Shape == nil || raw.DataOffsets == nil {
		return tensorInfo{}, fmt.Errorf("%w: tensor %q lacks dtype, shape or data_offsets", ErrFormat, name)
	}
	in := tensorInfo{name: name, dtype: Dtype(*raw.Dtype), shape: *raw.Shape}
	if in.shape == nil {
		in.shape = []int{} // "shape": null decodes to nil
	}
	size := in.dtype.size()
	if size == 0 {
		return tensorInfo{}, fmt.Errorf("%w: tensor %q has dtype %q (want F64, F32 or I64)", ErrUnsupported, name, in.dtype)
	}
	off := *raw.DataOffsets
	if len(off) != 2 {
		return tensorInfo{}, fmt.Errorf("%w: tensor %q has %d data_offsets, want [begin, end]", ErrFormat, name, len(off))
	}
	in.begin, in.end = off[0], off[1]
	if in.begin < 0 || in.end < in.begin {
		return tensorInfo{}, fmt.Errorf("%w: tensor %q has data_offsets [%d, %d]", ErrFormat, name, in.begin, in.end)
	}
	n, err := numElements(in.shape, math.MaxInt/size)
	if err != nil {
		return tensorInfo{}, fmt.Errorf("%w: tensor %q: %w", ErrFormat, name, err)
	}
	if n*size != in.end-in.begin {
		return tensorInfo{}, fmt.Errorf("%w: tensor %q: shape %v of %s needs %d bytes but data_offsets [%d, %d] span %d",
			ErrFormat, name, in.shape, in.dtype, n*size, in.begin, in.end, in.end-in.begin)
	}
	return in, nil
}
