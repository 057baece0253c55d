package natstap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Decoded is a payload made readable.
type Decoded struct {
	Format string // json, nestjs-request, nestjs-reply, text, binary
	Body   string // pretty-printed
	Note   string // e.g. the NestJS pattern
}

// Decode pretty-prints a payload: JSON indented, NestJS microservice envelopes
// ({pattern, data, id} and {response, err, isDisposed, id}) unwrapped, text as is, binary as hex.
func Decode(data []byte) Decoded {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return Decoded{Format: "text"}
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		var v any
		if json.Unmarshal(trimmed, &v) == nil {
			if obj, ok := v.(map[string]any); ok {
				if d, ok := nestjs(obj); ok {
					return d
				}
			}
			return Decoded{Format: "json", Body: pretty(v)}
		}
	}
	if utf8.Valid(data) {
		return Decoded{Format: "text", Body: string(data)}
	}
	n := min(len(data), 256)
	return Decoded{Format: "binary", Body: fmt.Sprintf("% x", data[:n]), Note: fmt.Sprintf("%d bytes", len(data))}
}

func nestjs(obj map[string]any) (Decoded, bool) {
	_, hasID := obj["id"]
	if p, ok := obj["pattern"]; ok && hasID {
		if _, ok := obj["data"]; ok && len(obj) <= 4 {
			return Decoded{Format: "nestjs-request", Note: fmt.Sprintf("pattern %s, id %v", compact(p), obj["id"]), Body: pretty(obj["data"])}, true
		}
	}
	if _, ok := obj["response"]; ok {
		_, hasDisposed := obj["isDisposed"]
		if hasID || hasDisposed {
			note := fmt.Sprintf("id %v", obj["id"])
			if d, ok := obj["isDisposed"].(bool); ok && d {
				note += ", disposed"
			}
			if e := obj["err"]; e != nil {
				note += ", err " + compact(e)
			}
			return Decoded{Format: "nestjs-reply", Note: note, Body: pretty(obj["response"])}, true
		}
	}
	if e, ok := obj["err"]; ok && e != nil && hasID {
		return Decoded{Format: "nestjs-reply", Note: fmt.Sprintf("id %v, err %s", obj["id"], compact(e))}, true
	}
	return Decoded{}, false
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// OneLine is a short single-line preview of a payload.
func OneLine(data []byte, max int) string {
	s := strings.Join(strings.Fields(string(bytes.ToValidUTF8(data, []byte("?")))), " ")
	if len(s) > max {
		return s[:max-1] + "…"
	}
	return s
}
