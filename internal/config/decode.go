package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// nodeUnmarshaler is implemented by types with their own scalar syntax (ports, durations...).
// It returns a message, not an error, so the decoder can locate it.
type nodeUnmarshaler interface{ unmarshalNode(n *node) string }

// decoder fills typed structs from a node tree strictly: unknown keys and wrong types are
// located errors, all collected, never a panic. It records where each value was written.
type decoder struct {
	errs *Errors
	pos  map[string]Pos
}

func fieldName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

func (d *decoder) decode(n *node, v reflect.Value, path string) {
	if n == nil {
		return
	}
	d.pos[path] = n.pos
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(nodeUnmarshaler); ok {
			if n.isNull() {
				return
			}
			if msg := u.unmarshalNode(n); msg != "" {
				d.errs.add(n.pos, "%s: %s", path, msg)
			}
			return
		}
	}
	if n.isNull() {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.String:
		if n.kind != yaml.ScalarNode {
			d.errs.add(n.pos, "%s must be a string, not a %s", path, kindName(n))
			return
		}
		v.SetString(n.value)
	case reflect.Int:
		if n.kind != yaml.ScalarNode {
			d.errs.add(n.pos, "%s must be a number, not a %s", path, kindName(n))
			return
		}
		i, err := strconv.Atoi(strings.TrimSpace(n.value))
		if err != nil {
			d.errs.add(n.pos, "%s must be a whole number, found %q", path, n.value)
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		b, err := strconv.ParseBool(n.value)
		if n.kind != yaml.ScalarNode || err != nil {
			d.errs.add(n.pos, "%s must be true or false, found %s", path, describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Slice:
		if n.kind != yaml.SequenceNode {
			d.errs.add(n.pos, "%s must be a list, not a %s", path, kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.items), len(n.items))
		for i, it := range n.items {
			d.decode(it, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	default:
		d.errs.add(n.pos, "%s: unsupported value", path)
	}
}

func (d *decoder) decodeMap(n *node, v reflect.Value, path string) {
	elem := v.Type().Elem()
	// env-style maps also accept a list of KEY=VALUE strings, as compose does
	if n.kind == yaml.SequenceNode && elem.Kind() == reflect.String {
		m := reflect.MakeMap(v.Type())
		for i, it := range n.items {
			k, val, ok := strings.Cut(it.value, "=")
			if it.kind != yaml.ScalarNode || !ok || k == "" {
				d.errs.add(it.pos, "%s[%d] must be KEY=VALUE, found %s", path, i, describe(it))
				continue
			}
			d.pos[path+"."+k] = it.pos
			m.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(val))
		}
		v.Set(m)
		return
	}
	if n.kind != yaml.MappingNode {
		d.errs.add(n.pos, "%s must be a mapping, not a %s", path, kindName(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for i, k := range n.keys {
		val := n.vals[i]
		p := path + "." + k.value
		if elem.Kind() == reflect.String {
			// scalars of any type are strings here: PORT: 3000 means "3000"
			if val.kind != yaml.ScalarNode {
				d.errs.add(val.pos, "%s must be a string, not a %s", p, kindName(val))
				continue
			}
			d.pos[p] = val.pos
			v.SetMapIndex(reflect.ValueOf(k.value), reflect.ValueOf(val.value))
			continue
		}
		ev := reflect.New(elem).Elem()
		d.decode(val, ev, p)
		d.pos[p] = k.pos // the entry's name is where messages about the entry point
		if ev.Kind() == reflect.Pointer && ev.IsNil() {
			ev.Set(reflect.New(elem.Elem())) // `name:` with no body is an empty entry
		}
		v.SetMapIndex(reflect.ValueOf(k.value), ev)
	}
}

func (d *decoder) decodeStruct(n *node, v reflect.Value, path string) {
	if n.kind != yaml.MappingNode {
		d.errs.add(n.pos, "%s must be a mapping, not a %s", orTop(path), kindName(n))
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if name := fieldName(t.Field(i)); name != "" {
			fields[name] = i
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for i, k := range n.keys {
		if strings.HasPrefix(k.value, "x-") {
			continue // extension fields, as in compose: a place for anchors
		}
		fi, ok := fields[k.value]
		if !ok {
			e := d.errs.add(k.pos, "unknown key %q in %s%s", k.value, orTop(path), didYouMean(k.value, names))
			e.Hint = "known keys: " + strings.Join(names, ", ")
			continue
		}
		p := k.value
		if path != "" {
			p = path + "." + k.value
		}
		d.decode(n.vals[i], v.Field(fi), p)
		if kv := n.vals[i]; kv.kind != yaml.ScalarNode {
			d.pos[p] = k.pos
		}
	}
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func describe(n *node) string {
	if n.kind == yaml.ScalarNode && !n.isNull() {
		return strconv.Quote(n.value)
	}
	return "a " + kindName(n)
}
