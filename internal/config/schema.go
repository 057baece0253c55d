package config

import (
	"reflect"
	"strings"
)

type schemaer interface{ jsonSchema() map[string]any }

// Schema returns the JSON Schema (draft 2020-12) of launcher.yaml, generated from the same
// struct tags the decoder reads, so the two cannot disagree.
func Schema() map[string]any {
	s := schemaOf(reflect.TypeOf(Project{}))
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://launcher.dev/schema/launcher.json"
	s["title"] = "launcher.yaml"
	s["patternProperties"] = map[string]any{"^x-": map[string]any{}}
	return s
}

func schemaOf(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := reflect.New(t).Elem().Interface().(schemaer); ok {
		return s.jsonSchema()
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return map[string]any{
				"anyOf": []any{
					map[string]any{"type": "object", "additionalProperties": map[string]any{"type": []any{"string", "number", "boolean"}}},
					map[string]any{"type": "array", "items": map[string]any{"type": "string", "pattern": "^[^=]+=.*$"}},
				},
			}
		}
		return map[string]any{
			"type":                 "object",
			"propertyNames":        map[string]any{"pattern": nameRE.String()},
			"additionalProperties": schemaOf(t.Elem()),
		}
	case reflect.Struct:
		props := map[string]any{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := fieldName(f)
			if name == "" {
				continue
			}
			fs := schemaOf(f.Type)
			if d := f.Tag.Get("desc"); d != "" {
				fs["description"] = d
			}
			if e := f.Tag.Get("enum"); e != "" {
				var vals []any
				for _, v := range strings.Split(e, ",") {
					vals = append(vals, v)
				}
				fs["enum"] = vals
			}
			props[name] = fs
		}
		return map[string]any{
			"type":                 "object",
			"properties":           props,
			"additionalProperties": false,
			"patternProperties":    map[string]any{"^x-": map[string]any{}},
		}
	}
	return map[string]any{}
}
