// Package drivercfg describes the config block of every task driver
// nomadic ships: which options it takes, what each value must be and which
// are required. A driver decodes its config through its description, and
// the job checks of package catalog validate through the same one, so that
// a job is refused at submission by the rules a node would apply when it
// runs it, without the submitting side (nctl, the API) linking any driver.
//
// The package imports no driver and nothing beyond the standard library:
// descriptions are plain data and a few small functions.
package drivercfg

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Schema describes one driver's config block.
type Schema struct {
	// Driver is the driver's name in job files.
	Driver string
	// Fields are the options, in the order messages list them.
	Fields []Field
}

// Field is one option of a config block.
type Field struct {
	Name string
	Type Type
	// Required options must be given, and must not be an empty string.
	Required bool
	// Warn, when set, says what is not done as asked for a given value
	// (accepted but ignored, or honoured only on some nodes); "" when
	// all is well.
	Warn func(v any) string
}

// OptionError is a config option that is wrong: unknown, of the wrong
// type or missing. Its message names the option ("config.image ...").
type OptionError struct {
	Option  string
	Message string
}

func (e *OptionError) Error() string { return e.Message }

// Warning is a config option that is accepted but not done as asked.
type Warning struct {
	Option  string
	Message string
}

// Warnings lists what the options of a config block ask for that the
// driver does not do as asked. Options that do not decode are left to
// Validate.
func (s *Schema) Warnings(c map[string]any) []Warning {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Warning
	for _, k := range keys {
		f := s.field(k)
		if f == nil || f.Warn == nil {
			continue
		}
		if _, ok := f.Type.Decode(c[k]); !ok {
			continue
		}
		if msg := f.Warn(c[k]); msg != "" {
			out = append(out, Warning{Option: k, Message: "config." + k + ": " + msg})
		}
	}
	return out
}

// Type is what an option's value must be. Decode returns the value in the
// form drivers read it (see Values), or false when the value does not fit;
// Desc ends the message "config.<option> must be ...".
type Type struct {
	Desc   string
	Decode func(v any) (any, bool)
}

// Validate checks a config block against the schema.
func (s *Schema) Validate(c map[string]any) error {
	_, err := s.Decode(c)
	return err
}

// Decode checks a config block against the schema and returns its values.
// Options are checked in name order, so that a block with several
// problems always reports the same one.
func (s *Schema) Decode(c map[string]any) (Values, error) {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(Values, len(c))
	for _, k := range keys {
		f := s.field(k)
		if f == nil {
			return nil, &OptionError{Option: k, Message: fmt.Sprintf("config.%s is not an option of the %s driver (%s)", k, s.Driver, s.nameList())}
		}
		v, ok := f.Type.Decode(c[k])
		if !ok {
			return nil, &OptionError{Option: k, Message: fmt.Sprintf("config.%s must be %s", k, f.Type.Desc)}
		}
		out[k] = v
	}
	for _, f := range s.Fields {
		if v, given := out[f.Name]; f.Required && (!given || v == "") {
			return nil, &OptionError{Option: f.Name, Message: fmt.Sprintf("config.%s is required by the %s driver", f.Name, s.Driver)}
		}
	}
	return out, nil
}

func (s *Schema) field(name string) *Field {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

func (s *Schema) names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// nameList names the options for a message; long lists are cut short.
func (s *Schema) nameList() string {
	names := s.names()
	if len(names) > 12 {
		return strings.Join(names[:12], ", ") + fmt.Sprintf(" and %d more, see docs/drivers.md", len(names)-12)
	}
	return strings.Join(names, ", ")
}

// Values are a decoded config block, by option name. Options not given
// read as their zero value.
type Values map[string]any

// String returns a String or NonEmptyString option.
func (v Values) String(name string) string { s, _ := v[name].(string); return s }

// Strings returns a Strings or Args option.
func (v Values) Strings(name string) []string { s, _ := v[name].([]string); return s }

// Number returns a PositiveNumber option.
func (v Values) Number(name string) float64 { n, _ := v[name].(float64); return n }

// Int returns a WholeNumber option.
func (v Values) Int(name string) int { n, _ := v[name].(int); return n }

// Duration returns a Duration option.
func (v Values) Duration(name string) time.Duration { d, _ := v[name].(time.Duration); return d }

// Bool returns a Bool option.
func (v Values) Bool(name string) bool { b, _ := v[name].(bool); return b }

// Map returns a StringMap option.
func (v Values) Map(name string) map[string]string { m, _ := v[name].(map[string]string); return m }

// Objects returns an Objects option: its blocks, each as a map.
func (v Values) Objects(name string) []map[string]any { o, _ := v[name].([]map[string]any); return o }

// Given reports whether an option was given.
func (v Values) Given(name string) bool { _, ok := v[name]; return ok }

// Bool is true or false (or the strings "true" and "false", as HCL1 files
// often give them).
var Bool = Type{Desc: "true or false", Decode: func(v any) (any, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		p, err := strconv.ParseBool(b)
		return p, err == nil
	}
	return nil, false
}}

// Any is a value of any shape, for options the driver accepts and does
// not read.
var Any = Type{Desc: "a value", Decode: func(v any) (any, bool) { return v, true }}

// StringMap is a map of strings: an attribute (labels = { ... }) or a
// block (labels { ... }), or a list of either; numbers and booleans in it
// are taken as written.
var StringMap = Type{Desc: "a map of strings", Decode: func(v any) (any, bool) {
	out := map[string]string{}
	var add func(x any) bool
	add = func(x any) bool {
		switch m := x.(type) {
		case map[string]any:
			for k, e := range m {
				s, ok := scalar(e)
				if !ok {
					return false
				}
				out[k] = s
			}
			return true
		case []any:
			for _, e := range m {
				if !add(e) {
					return false
				}
			}
			return true
		}
		return false
	}
	if !add(v) {
		return nil, false
	}
	return out, true
}}

func scalar(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(s), true
	}
	return "", false
}

// Objects is one or more blocks (mount { ... } mount { ... }), or a list
// of objects (mounts = [{ ... }]), each read as a map.
var Objects = Type{Desc: "a block or a list of objects", Decode: func(v any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return []map[string]any{x}, true
	case []any:
		out := make([]map[string]any, 0, len(x))
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	return nil, false
}}

// StringOrStrings is a string or a list of strings, read as a list.
var StringOrStrings = Type{Desc: "a string or a list of strings", Decode: func(v any) (any, bool) {
	if s, ok := v.(string); ok {
		return []string{s}, true
	}
	return list(v, false)
}}

// Number is a number not below zero, or a string of one, read as a
// float64.
var Number = Type{Desc: "a positive number", Decode: func(v any) (any, bool) {
	switch n := v.(type) {
	case float64:
		return n, n >= 0
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil && f >= 0
	}
	return nil, false
}}

// Bytes is a size: a number of bytes, or a string such as "64m" or "1g",
// read as an int64 number of bytes.
var Bytes = Type{Desc: `a size in bytes, or a string such as "64m"`, Decode: func(v any) (any, bool) {
	switch n := v.(type) {
	case float64:
		return int64(n), n >= 0
	case string:
		b, err := ParseBytes(n)
		return b, err == nil
	}
	return nil, false
}}

// ParseBytes reads a size such as "512", "64k", "64m" or "1g" (binary
// units, as Docker reads them).
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size such as \"64m\"", s)
	}
	return int64(f * float64(mult)), nil
}

// String is any string, the empty one included.
var String = Type{Desc: "a string", Decode: func(v any) (any, bool) {
	s, ok := v.(string)
	return s, ok
}}

// NonEmptyString is a string other than "".
var NonEmptyString = Type{Desc: "a non-empty string", Decode: func(v any) (any, bool) {
	s, ok := v.(string)
	return s, ok && s != ""
}}

// Strings is a list of strings; numbers in it are taken as written
// (6379 as "6379"), since job files often give ports and counts bare.
var Strings = Type{Desc: "a list of strings", Decode: func(v any) (any, bool) { return list(v, false) }}

// Args is Strings that also takes booleans ("true", "false"), as the
// raw_exec driver's args always have.
var Args = Type{Desc: "a list of strings", Decode: func(v any) (any, bool) { return list(v, true) }}

func list(v any, bools bool) (any, bool) {
	items, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, x := range items {
		switch s := x.(type) {
		case string:
			out = append(out, s)
		case float64:
			out = append(out, strconv.FormatFloat(s, 'f', -1, 64))
		case bool:
			if !bools {
				return nil, false
			}
			out = append(out, strconv.FormatBool(s))
		default:
			return nil, false
		}
	}
	return out, true
}

// PositiveNumber is a number not below zero, read as a float64.
var PositiveNumber = Type{Desc: "a positive number", Decode: func(v any) (any, bool) {
	n, ok := v.(float64)
	return n, ok && n >= 0
}}

// Duration is a duration string not below zero ("10s", "1m30s"), read as a
// time.Duration.
var Duration = Type{Desc: `a duration such as "10s"`, Decode: func(v any) (any, bool) {
	s, ok := v.(string)
	d, err := time.ParseDuration(s)
	return d, ok && err == nil && d >= 0
}}

// WholeNumber is a whole number from min to max, read as an int.
func WholeNumber(min, max int) Type {
	return Type{Desc: fmt.Sprintf("a whole number from %d to %d", min, max), Decode: func(v any) (any, bool) {
		n, ok := v.(float64)
		if !ok || n < float64(min) || n > float64(max) || n != float64(int(n)) {
			return nil, false
		}
		return int(n), true
	}}
}
