package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pos locates a value in a config file. Line and Col are 1-based; a zero Line means the value
// came from launcher's defaults rather than a file.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.Line == 0 {
		if p.File == "" {
			return "(defaults)"
		}
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// node is a YAML value with its position, independent of the yaml library, so that trees from
// several files can be merged while every value keeps the file it came from.
type node struct {
	kind  yaml.Kind // ScalarNode, MappingNode or SequenceNode
	tag   string    // resolved tag of a scalar: !!str, !!int, !!bool, !!float, !!null
	value string
	keys  []*node // mapping keys, in order
	vals  []*node // mapping values, parallel to keys
	items []*node // sequence items
	pos   Pos
	reset bool // tagged !reset: an override removes the key
}

// maxNodes bounds alias expansion ("billion laughs") and absurd documents.
const maxNodes = 100_000

type converter struct {
	file  string
	count int
	errs  *Errors
}

// fromYAML converts a parsed document. Aliases are expanded; merge keys (<<) are applied.
func (c *converter) convert(y *yaml.Node, depth int) *node {
	c.count++
	if c.count > maxNodes || depth > 100 {
		if c.count == maxNodes+1 || depth == 101 {
			c.errs.add(Pos{c.file, y.Line, y.Column}, "document is too large or too deeply nested (aliases expand to more than %d values)", maxNodes)
		}
		return &node{kind: yaml.ScalarNode, tag: "!!null", pos: Pos{c.file, y.Line, y.Column}}
	}
	pos := Pos{c.file, y.Line, y.Column}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return nil
		}
		return c.convert(y.Content[0], depth+1)
	case yaml.AliasNode:
		if y.Alias == nil {
			return &node{kind: yaml.ScalarNode, tag: "!!null", pos: pos}
		}
		n := c.convert(y.Alias, depth+1)
		return n
	case yaml.ScalarNode:
		n := &node{kind: yaml.ScalarNode, tag: y.ShortTag(), value: y.Value, pos: pos}
		if y.Tag == "!reset" {
			n.reset, n.tag = true, "!!null"
		}
		return n
	case yaml.SequenceNode:
		n := &node{kind: yaml.SequenceNode, pos: pos, reset: y.Tag == "!reset"}
		for _, it := range y.Content {
			n.items = append(n.items, c.convert(it, depth+1))
		}
		return n
	case yaml.MappingNode:
		n := &node{kind: yaml.MappingNode, pos: pos, reset: y.Tag == "!reset"}
		seen := map[string]bool{} // keeps duplicate detection linear on huge mappings
		var merges []*node
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag != "!!str" {
				m := c.convert(v, depth+1)
				if m.kind == yaml.SequenceNode {
					merges = append(merges, m.items...)
				} else {
					merges = append(merges, m)
				}
				continue
			}
			kn := c.convert(k, depth+1)
			if kn.kind != yaml.ScalarNode {
				c.errs.add(kn.pos, "a key must be a plain string, not a %s", kindName(kn))
				continue
			}
			if seen[kn.value] {
				c.errs.add(kn.pos, "key %q appears twice in this mapping; remove one", kn.value)
				continue
			}
			seen[kn.value] = true
			n.keys = append(n.keys, kn)
			n.vals = append(n.vals, c.convert(v, depth+1))
		}
		for _, m := range merges {
			if m.kind != yaml.MappingNode {
				c.errs.add(m.pos, "a merge key (<<) needs a mapping")
				continue
			}
			for i, k := range m.keys {
				if !seen[k.value] {
					seen[k.value] = true
					n.keys = append(n.keys, k)
					n.vals = append(n.vals, m.vals[i])
				}
			}
		}
		return n
	}
	return &node{kind: yaml.ScalarNode, tag: "!!null", pos: pos}
}

func (n *node) get(key string) *node {
	if n == nil || n.kind != yaml.MappingNode {
		return nil
	}
	for i, k := range n.keys {
		if k.value == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *node) keyPos(key string) Pos {
	for _, k := range n.keys {
		if k.value == key {
			return k.pos
		}
	}
	return n.pos
}

func (n *node) isNull() bool { return n == nil || (n.kind == yaml.ScalarNode && n.tag == "!!null") }

func kindName(n *node) string {
	switch {
	case n == nil || n.isNull():
		return "null"
	case n.kind == yaml.MappingNode:
		return "mapping"
	case n.kind == yaml.SequenceNode:
		return "list"
	}
	switch n.tag {
	case "!!int":
		return "number"
	case "!!float":
		return "number"
	case "!!bool":
		return "boolean"
	}
	return "string"
}

// merge lays override over base: mappings merge key by key, recursively; anything else in the
// override replaces the base value whole (lists included, so an override can change a list);
// a value tagged !reset removes the key.
func merge(base, over *node) *node {
	if over == nil {
		return base
	}
	if base == nil || base.kind != yaml.MappingNode || over.kind != yaml.MappingNode || over.reset {
		return over
	}
	out := &node{kind: yaml.MappingNode, pos: base.pos}
	index := map[string]int{}
	for i, k := range base.keys {
		index[k.value] = len(out.keys)
		out.keys = append(out.keys, k)
		out.vals = append(out.vals, base.vals[i])
	}
	removed := map[string]bool{}
	for i, k := range over.keys {
		v := over.vals[i]
		idx, ok := index[k.value]
		switch {
		case v.reset && v.isNull():
			removed[k.value] = ok
		case ok:
			out.vals[idx] = merge(out.vals[idx], v)
			delete(removed, k.value)
		default:
			index[k.value] = len(out.keys)
			out.keys = append(out.keys, k)
			out.vals = append(out.vals, v)
		}
	}
	if len(removed) > 0 {
		keys, vals := out.keys[:0:0], out.vals[:0:0]
		for i, k := range out.keys {
			if _, gone := removed[k.value]; !gone {
				keys, vals = append(keys, k), append(vals, out.vals[i])
			}
		}
		out.keys, out.vals = keys, vals
	}
	return out
}

// yamlErrPos extracts "line N" from the yaml library's messages, which carry no column.
func yamlError(file string, err error) *Error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			fmt.Sscanf(rest[:i], "%d", &line)
			msg = strings.TrimSpace(rest[i+1:])
		}
	}
	if line == 0 {
		line = 1
	}
	return &Error{Pos: Pos{File: file, Line: line, Col: 1}, Msg: "invalid YAML: " + msg}
}
