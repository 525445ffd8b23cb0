package api

import (
	"slices"
	"strings"
	"testing"
)

// A template that reads Consul or Vault is warned of at submission, with
// the functions it calls, as a vault block is; nomadic's own functions and
// a template that does not parse (the renderer's to report) are not.
func TestTemplatesThatReadConsulAreWarned(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		data, left, right string
		want              []string
	}{
		{`{{ range service "db" }}{{ .Address }}{{ end }} {{ key "a" }} {{ key "b" }}`, "", "", []string{"service", "key"}},
		{`{{ if keyExists "x" }}{{ with secret "kv/x" }}{{ .Data }}{{ end }}{{ else }}{{ keyOrDefault "y" "z" }}{{ end }}`, "", "", []string{"keyExists", "secret", "keyOrDefault"}},
		{`[[ key "a" ]] {{ not a call }}`, "[[", "]]", []string{"key"}},
		{`{{ (secret "kv/x").Data.password }} {{ (index (service "db") 0).Address }}`, "", "", []string{"secret", "service"}},
		{`{{ with nomadVar "nomad/jobs/j" }}{{ .x }}{{ end }} {{ env "node.unique.name" }} {{ .node }}`, "", "", nil},
		{`{{ key "a" `, "", "", nil},
	} {
		tpl := &Template{Data: c.data, LeftDelim: c.left, RightDelim: c.right, Destination: "local/x"}
		if got := tpl.ConsulCalls(); !slices.Equal(got, c.want) {
			t.Errorf("%q: %v, want %v", c.data, got, c.want)
		}
	}
	j := &Job{ID: "j", Groups: []*TaskGroup{{Name: "g", Count: 1, Tasks: []*Task{{Name: "t", Driver: "raw_exec",
		Templates: []*Template{{Data: `{{ key "a" }}`, Destination: "local/x"}, {Data: "plain", Destination: "local/y"}}}}}}}
	var found []string
	for _, w := range j.Warnings() {
		if strings.Contains(w, "Consul or Vault") {
			found = append(found, w)
		}
	}
	if len(found) != 1 || !strings.Contains(found[0], `"local/x" calls key`) {
		t.Fatalf("warnings %v", found)
	}
}
