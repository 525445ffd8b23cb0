package tmpl

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"sigs.k8s.io/yaml"
)

// renderer holds one render's state: its source and what it used.
type renderer struct {
	src     Source
	used    Used
	missing []string
}

// VarItems are a variable's items, as nomadVar returns them: a map, so
// {{ .password }} reads an item, with consul-template's helpers.
type VarItems map[string]string

// Keys are the item keys, sorted.
func (v VarItems) Keys() []string {
	out := make([]string, 0, len(v))
	for k := range v {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Values are the item values, in key order.
func (v VarItems) Values() []string {
	var out []string
	for _, k := range v.Keys() {
		out = append(out, v[k])
	}
	return out
}

// Item is one key and value of a variable.
type Item struct{ Key, Value string }

// Tuples are the items as key/value pairs, in key order.
func (v VarItems) Tuples() []Item {
	var out []Item
	for _, k := range v.Keys() {
		out = append(out, Item{k, v[k]})
	}
	return out
}

// VarMeta is a variable as nomadVarList lists it.
type VarMeta struct {
	Namespace, Path          string
	CreateIndex, ModifyIndex uint64
	CreateTime, ModifyTime   time.Time
}

// Service is a healthy service instance as nomadService returns it.
type Service struct {
	ID, Name, Namespace, Node, Datacenter, JobID, AllocID string
	Tags                                                  []string
	Address                                               string
	Port                                                  int
}

// ServiceName is a service as nomadServices lists it.
type ServiceName struct {
	Name string
	Tags []string
}

func (r *renderer) funcs() template.FuncMap {
	consul := func(name string) any {
		return func(...any) (any, error) { return nil, fmt.Errorf("%s: %w", name, ErrConsul) }
	}
	m := template.FuncMap{
		"env":            r.src.Env,
		"nomadVar":       r.nomadVar,
		"nomadVarExists": r.nomadVarExists,
		"nomadVarList":   r.nomadVarList,
		"nomadService":   r.nomadService,
		"nomadServices":  r.nomadServices,
		"file":           r.src.File,

		"toJSON":       toJSON,
		"toJSONPretty": toJSONPretty,
		"toYAML":       toYAML,
		"parseJSON":    parseJSON,
		"split":        func(sep, s string) []string { return strings.Split(s, sep) },
		"join":         join,
		"replaceAll":   func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
		"toUpper":      strings.ToUpper,
		"toLower":      strings.ToLower,
		"toTitle":      strings.ToTitle,
		"trimSpace":    strings.TrimSpace,
		"trimPrefix":   func(p, s string) string { return strings.TrimPrefix(s, p) },
		"trimSuffix":   func(p, s string) string { return strings.TrimSuffix(s, p) },
		"contains":     func(sub, s string) bool { return strings.Contains(s, sub) },
		"hasPrefix":    func(p, s string) bool { return strings.HasPrefix(s, p) },
		"hasSuffix":    func(p, s string) bool { return strings.HasSuffix(s, p) },
		"parseInt":     func(s string) (int64, error) { return strconv.ParseInt(strings.TrimSpace(s), 10, 64) },
		"parseUint":    func(s string) (uint64, error) { return strconv.ParseUint(strings.TrimSpace(s), 10, 64) },
		"parseFloat":   func(s string) (float64, error) { return strconv.ParseFloat(strings.TrimSpace(s), 64) },
		"parseBool":    func(s string) (bool, error) { return strconv.ParseBool(strings.TrimSpace(s)) },
		"timestamp":    timestamp,
		"base64Encode": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"base64Decode": func(s string) (string, error) {
			b, err := base64.StdEncoding.DecodeString(s)
			return string(b), err
		},
		"sprig_default": func(def, v any) any {
			if empty(v) {
				return def
			}
			return v
		},
		"sprig_quote":   func(s string) string { return strconv.Quote(s) },
		"sprig_squote":  func(s string) string { return "'" + s + "'" },
		"sprig_trim":    strings.TrimSpace,
		"sprig_upper":   strings.ToUpper,
		"sprig_lower":   strings.ToLower,
		"sprig_b64enc":  func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"sprig_indent":  indent,
		"sprig_nindent": func(n int, s string) string { return "\n" + indent(n, s) },
		"sprig_list":    func(v ...any) []any { return v },
		"sprig_dict":    dict,
	}
	for _, name := range api.ConsulTemplateFunctions {
		m[name] = consul(name)
	}
	return m
}

// splitNS reads "path@namespace"; the namespace must be the task's, the
// only one it may read.
func splitNS(s string) string {
	path, _, _ := strings.Cut(s, "@")
	return path
}

func (r *renderer) nomadVar(path string) (VarItems, error) {
	r.used.Vars = true
	path = splitNS(path)
	items, err := r.src.Var(path)
	var missing *MissingError
	if errors.As(err, &missing) {
		r.missing = append(r.missing, "nomad.var.block("+path+")")
		return VarItems{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nomadVar %q: %w", path, err)
	}
	return VarItems(items), nil
}

func (r *renderer) nomadVarExists(path string) (bool, error) {
	r.used.Vars = true
	_, err := r.src.Var(splitNS(path))
	var missing *MissingError
	switch {
	case errors.As(err, &missing):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("nomadVarExists %q: %w", path, err)
	}
	return true, nil
}

func (r *renderer) nomadVarList(prefix ...string) ([]VarMeta, error) {
	r.used.Vars = true
	p := ""
	if len(prefix) > 0 {
		p = splitNS(prefix[0])
	}
	list, err := r.src.VarList(p)
	if err != nil {
		return nil, fmt.Errorf("nomadVarList %q: %w", p, err)
	}
	out := make([]VarMeta, 0, len(list))
	for _, v := range list {
		out = append(out, VarMeta{Namespace: v.Namespace, Path: v.Path, CreateIndex: v.CreateIndex, ModifyIndex: v.ModifyIndex,
			CreateTime: v.CreateTime, ModifyTime: v.ModifyTime})
	}
	return out, nil
}

// nomadService returns the healthy instances of a service: "name",
// "tag.name", or (count, key, name) for a stable subset of count
// instances chosen by key (rendezvous hashing), as consul-template has it.
func (r *renderer) nomadService(args ...any) ([]Service, error) {
	r.used.Services = true
	var name string
	count, key := 0, ""
	switch len(args) {
	case 1:
		name = fmt.Sprint(args[0])
	case 3:
		n, err := strconv.Atoi(fmt.Sprint(args[0]))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("nomadService: count %v is not a positive number", args[0])
		}
		count, key, name = n, fmt.Sprint(args[1]), fmt.Sprint(args[2])
	default:
		return nil, fmt.Errorf("nomadService takes a name, or a count, a key and a name; not %d arguments", len(args))
	}
	name, _, _ = strings.Cut(name, "@")
	tag := ""
	if t, n, ok := strings.Cut(name, "."); ok {
		tag, name = t, n
	}
	regs, err := r.src.Services(name)
	if err != nil {
		return nil, fmt.Errorf("nomadService %q: %w", name, err)
	}
	out := []Service{}
	for _, reg := range regs {
		if tag != "" && !hasTag(reg.Tags, tag) {
			continue
		}
		out = append(out, Service{ID: reg.ID, Name: reg.ServiceName, Namespace: reg.Namespace, Node: reg.NodeID, JobID: reg.JobID,
			AllocID: reg.AllocID, Tags: reg.Tags, Address: reg.Address, Port: reg.Port})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if count > 0 && len(out) > count {
		score := func(s Service) uint64 {
			h := fnv.New64a()
			h.Write([]byte(key + "/" + s.ID))
			return h.Sum64()
		}
		sort.SliceStable(out, func(i, j int) bool { return score(out[i]) > score(out[j]) })
		out = out[:count]
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	}
	return out, nil
}

func (r *renderer) nomadServices() ([]ServiceName, error) {
	r.used.Services = true
	regs, err := r.src.Services("")
	if err != nil {
		return nil, fmt.Errorf("nomadServices: %w", err)
	}
	byName := map[string]map[string]bool{}
	for _, reg := range regs {
		if byName[reg.ServiceName] == nil {
			byName[reg.ServiceName] = map[string]bool{}
		}
		for _, t := range reg.Tags {
			byName[reg.ServiceName][t] = true
		}
	}
	out := make([]ServiceName, 0, len(byName))
	for n, tags := range byName {
		s := ServiceName{Name: n, Tags: []string{}}
		for t := range tags {
			s.Tags = append(s.Tags, t)
		}
		sort.Strings(s.Tags)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func toJSONPretty(v any) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return string(b), err
}

func toYAML(v any) (string, error) {
	b, err := yaml.Marshal(v)
	return strings.TrimSuffix(string(b), "\n"), err
}

func parseJSON(s string) (any, error) {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	return v, nil
}

// join joins a list's elements with sep: consul-template's argument
// order, so that {{ $list | join "," }} works.
func join(sep string, list any) (string, error) {
	switch l := list.(type) {
	case []string:
		return strings.Join(l, sep), nil
	case []any:
		parts := make([]string, len(l))
		for i, v := range l {
			parts[i] = fmt.Sprint(v)
		}
		return strings.Join(parts, sep), nil
	case VarItems:
		return strings.Join(l.Values(), sep), nil
	}
	return "", fmt.Errorf("join: %T is not a list", list)
}

// timestamp is the current time, in RFC 3339 or a Go layout.
func timestamp(layout ...string) string {
	now := time.Now().UTC()
	if len(layout) > 0 && layout[0] != "" {
		return now.Format(layout[0])
	}
	return now.Format(time.RFC3339)
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case int:
		return x == 0
	case int64:
		return x == 0
	case float64:
		return x == 0
	case []any:
		return len(x) == 0
	case []string:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	case VarItems:
		return len(x) == 0
	}
	return false
}

func indent(n int, s string) string {
	if n < 0 || n > 1000 {
		n = 0
	}
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("sprig_dict needs pairs of keys and values")
	}
	out := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		out[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return out, nil
}
