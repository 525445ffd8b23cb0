package nomadapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Nomad's list endpoints take ?filter= expressions (go-bexpr). nomadic
// reads the common subset: comparisons of a field with a value, joined by
// "and" or "or" (and binds tighter), each optionally negated with "not":
//
//	Status == "ready"
//	Attributes["kernel.name"] == "linux" and NodePool != "gpu"
//	Name contains "web"  /  Meta.owner is not empty  /  "prod" in Tags
//	Name matches "^web-[0-9]+$"
//	ParentID == "" and ParameterizedJob is not nil
//
// Anything else answers 400 naming what was not understood.

type filterTerm struct {
	not      bool
	selector []string // path into the item
	op       string   // ==, !=, contains, not contains, matches, not matches, is empty, is not empty, is nil, is not nil, in, not in
	value    string
	re       *regexp.Regexp
}

// filter is a disjunction of conjunctions of terms; the zero filter
// matches everything.
type filter struct{ any [][]filterTerm }

var termPattern = regexp.MustCompile(`^(not\s+)?(?:("(?:[^"\\]|\\.)*"|[\w.\-]+)\s+(not\s+in|in)\s+([\w.\[\]"\-]+)|([\w.\[\]"\-]+)\s+(==|!=|not\s+contains|contains|not\s+matches|matches|is\s+not\s+empty|is\s+empty|is\s+not\s+nil|is\s+nil)\s*("(?:[^"\\]|\\.)*"|[\w.\-]*))$`)

func parseFilter(expr string) (*filter, error) {
	f := &filter{}
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return f, nil
	}
	for _, disj := range splitWord(expr, "or") {
		var conj []filterTerm
		for _, t := range splitWord(disj, "and") {
			term, err := parseTerm(strings.TrimSpace(t))
			if err != nil {
				return nil, err
			}
			conj = append(conj, term)
		}
		f.any = append(f.any, conj)
	}
	return f, nil
}

// splitWord splits s at the word w outside quotes.
func splitWord(s, w string) []string {
	var out []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && inQuote:
			i++
		case s[i] == '"':
			inQuote = !inQuote
		case !inQuote && i > 0 && s[i-1] == ' ' && strings.HasPrefix(s[i:], w+" "):
			out = append(out, s[start:i])
			start = i + len(w) + 1
		}
	}
	return append(out, s[start:])
}

func parseTerm(t string) (filterTerm, error) {
	t = strings.TrimSuffix(strings.TrimPrefix(t, "("), ")")
	m := termPattern.FindStringSubmatch(strings.TrimSpace(t))
	if m == nil {
		return filterTerm{}, badRequest("filter expression %q is not supported: nomadic reads comparisons (==, !=, contains, matches, in, is empty, is nil) joined by and/or (docs/nomad-compat.md)", t)
	}
	term := filterTerm{not: m[1] != ""}
	var sel, val string
	if m[3] != "" {
		sel, term.op, val = m[4], strings.Join(strings.Fields(m[3]), " "), m[2]
	} else {
		sel, term.op, val = m[5], strings.Join(strings.Fields(m[6]), " "), m[7]
	}
	if strings.HasPrefix(val, `"`) {
		u, err := strconv.Unquote(val)
		if err != nil {
			return filterTerm{}, badRequest("filter value %s is not a valid string", val)
		}
		val = u
	}
	term.value = val
	path, err := parseSelector(sel)
	if err != nil {
		return filterTerm{}, err
	}
	term.selector = path
	if strings.HasSuffix(term.op, "matches") {
		re, err := regexp.Compile(val)
		if err != nil {
			return filterTerm{}, badRequest("filter regexp %q: %v", val, err)
		}
		term.re = re
	}
	return term, nil
}

// parseSelector reads Field.Sub or Field["key"].
func parseSelector(s string) ([]string, error) {
	var path []string
	for s != "" {
		switch {
		case strings.HasPrefix(s, `["`):
			end := strings.Index(s, `"]`)
			if end < 0 {
				return nil, badRequest("filter selector %q is not closed", s)
			}
			path = append(path, s[2:end])
			s = s[end+2:]
		case strings.HasPrefix(s, "."):
			s = s[1:]
		default:
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			path = append(path, s[:end])
			s = s[end:]
		}
	}
	if len(path) == 0 {
		return nil, badRequest("empty filter selector")
	}
	return path, nil
}

// filters says whether the filter keeps anything out (an empty one keeps
// everything).
func (f *filter) filters() bool { return len(f.any) > 0 }

// match reports whether an item (any JSON-encodable value) passes.
func (f *filter) match(item any) bool {
	if len(f.any) == 0 {
		return true
	}
	b, err := json.Marshal(item)
	if err != nil {
		return false
	}
	var doc any
	if json.Unmarshal(b, &doc) != nil {
		return false
	}
	for _, conj := range f.any {
		all := true
		for _, t := range conj {
			if t.eval(doc) == t.not {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (t filterTerm) eval(doc any) bool {
	v := doc
	for _, p := range t.selector {
		m, ok := v.(map[string]any)
		if !ok {
			v = nil
			break
		}
		v = m[p]
	}
	str := func(x any) string {
		switch y := x.(type) {
		case nil:
			return ""
		case string:
			return y
		case float64:
			return strconv.FormatFloat(y, 'f', -1, 64)
		}
		return fmt.Sprint(x)
	}
	empty := func() bool {
		switch y := v.(type) {
		case nil:
			return true
		case string:
			return y == ""
		case []any:
			return len(y) == 0
		case map[string]any:
			return len(y) == 0
		}
		return false
	}
	contains := func() bool {
		switch y := v.(type) {
		case string:
			return strings.Contains(y, t.value)
		case []any:
			for _, e := range y {
				if str(e) == t.value {
					return true
				}
			}
		case map[string]any:
			_, ok := y[t.value]
			return ok
		}
		return false
	}
	switch t.op {
	case "==":
		return str(v) == t.value
	case "!=":
		return str(v) != t.value
	case "contains", "in":
		return contains()
	case "not contains", "not in":
		return !contains()
	case "matches":
		return t.re.MatchString(str(v))
	case "not matches":
		return !t.re.MatchString(str(v))
	case "is empty":
		return empty()
	case "is not empty":
		return !empty()
	case "is nil":
		return v == nil
	case "is not nil":
		return v != nil
	}
	return false
}

// idPrefix is a prefix match of a UUID as Nomad's index does it: dashes
// do not count, so "05b58d0fd019" and "05b58d0f-d019" both match
// 05b58d0f-d019-…; the CLI strips them from some prefixes.
func idPrefix(id, prefix string) bool {
	if strings.HasPrefix(id, prefix) {
		return true
	}
	i := 0
	for j := 0; j < len(prefix); j++ {
		if prefix[j] == '-' {
			continue
		}
		for i < len(id) && id[i] == '-' {
			i++
		}
		if i == len(id) || id[i] != prefix[j] {
			return false
		}
		i++
	}
	return true
}
