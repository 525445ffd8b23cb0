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
			return nil, fmt.Errorf("config.%s is not an option of the %s driver (%s)", k, s.Driver, strings.Join(s.names(), ", "))
		}
		v, ok := f.Type.Decode(c[k])
		if !ok {
			return nil, fmt.Errorf("config.%s must be %s", k, f.Type.Desc)
		}
		out[k] = v
	}
	for _, f := range s.Fields {
		if v, given := out[f.Name]; f.Required && (!given || v == "") {
			return nil, fmt.Errorf("config.%s is required by the %s driver", f.Name, s.Driver)
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
