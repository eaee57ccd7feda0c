package results

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// bare matches a string shown without quotes: a word such as adam, relu or
// a file name, that reads as no number, boolean or null.
var bare = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.+/-]*$`)

// ShowValue renders an axis value's canonical JSON for a table: numbers and
// lists as they are ([512,512]), strings without their quotes when they
// are a plain word (adam, tanh), the empty string, a field's default, as
// (default), and objects with bare keys in
// the order written ({kind:step,milestones:[10],gamma:0.1}). The rendering
// is one-to-one over the values of one field, so groups it labels stay
// apart.
func ShowValue(js string) string {
	var b strings.Builder
	show(&b, json.RawMessage(js))
	return b.String()
}

func show(b *strings.Builder, raw json.RawMessage) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return
	}
	if string(raw) == `""` {
		b.WriteString("(default)")
		return
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err == nil && bare.MatchString(s) && s != "true" && s != "false" && s != "null" {
			b.WriteString(s)
			return
		}
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err == nil {
			b.WriteByte('[')
			for i, it := range items {
				if i > 0 {
					b.WriteByte(',')
				}
				show(b, it)
			}
			b.WriteByte(']')
			return
		}
	case '{':
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err == nil {
			var out strings.Builder
			out.WriteByte('{')
			ok := true
			for n := 0; dec.More(); n++ {
				tok, err := dec.Token()
				key, isKey := tok.(string)
				var v json.RawMessage
				if err != nil || !isKey || dec.Decode(&v) != nil {
					ok = false
					break
				}
				if n > 0 {
					out.WriteByte(',')
				}
				out.WriteString(key + ":")
				show(&out, v)
			}
			if ok {
				out.WriteByte('}')
				b.WriteString(out.String())
				return
			}
		}
	}
	b.Write(raw)
}
