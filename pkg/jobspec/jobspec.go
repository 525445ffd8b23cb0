// Package jobspec reads job files: Nomad-style HCL2, and JSON or YAML of
// the API form. Every problem is reported with its place in the file
// (file:line:col), all of a file's problems at once.
package jobspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver/catalog"
	"sigs.k8s.io/yaml"
)

// Error is every problem found in a job file.
type Error struct {
	Diags hcl.Diagnostics
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, d := range e.Diags {
		if i > 0 {
			b.WriteByte('\n')
		}
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString("; ")
			b.WriteString(d.Detail)
		}
	}
	return b.String()
}

// Parse reads a job file. The format is chosen by the file's extension
// (.json, .yaml, .yml; anything else is HCL), or for "-" and unknown
// extensions by its first character. The job comes back canonicalized
// (defaults applied) and validated.
func Parse(filename string, src []byte) (*api.Job, error) {
	return ParseWithOptions(filename, src, nil)
}

// ParseWithOptions is Parse with variable values for HCL files.
func ParseWithOptions(filename string, src []byte, opts *Options) (*api.Job, error) {
	var job *api.Job
	var ranges map[string]hcl.Range
	var diags, warns hcl.Diagnostics
	var err error
	switch format(filename, src) {
	case "json":
		job, err = parseJSON(filename, src)
	case "yaml":
		job, err = parseYAML(filename, src)
	default:
		job, ranges, diags, warns = parseHCL(filename, src, opts)
	}
	if err != nil {
		return nil, err
	}
	if job == nil {
		return nil, &Error{Diags: diags}
	}
	implicit := map[int]bool{}
	for i, g := range job.Groups {
		if g != nil && g.Network != nil && (g.Network.Mode == "" || g.Network.Mode == "host") {
			implicit[i] = true
		}
	}
	job.Canonicalize()
	for i := range implicit {
		if g := job.Groups[i]; g.Network.Mode == "bridge" && ranges != nil {
			rng, _ := locate(ranges, fmt.Sprintf("groups[%d].network", i))
			warns = append(warns, &hcl.Diagnostic{Severity: hcl.DiagWarning, Subject: rng.Ptr(), Summary: fmt.Sprintf(
				"group %q: its docker tasks get a bridge network, as on Docker's default network in Nomad, so that each port reaches its container port (to); a task that needs the node's network sets network_mode = \"host\" in its config", g.Name)})
		}
	}
	// A job whose file had errors of evaluation is missing what they
	// left out, and its validation would only report that again (a
	// template whose data is an undeclared variable "needs data").
	if err := catalog.ValidateJob(job); err != nil && !evaluationFailed(diags) {
		var ve *api.ValidationError
		if !errors.As(err, &ve) {
			return nil, err
		}
		// A block the decoder found missing a required argument is not
		// reported again by the validation (task "t" needs a driver;
		// driver is required).
		missing := map[string]bool{} // line and argument
		for _, d := range diags {
			if d.Severity != hcl.DiagError || d.Subject == nil || !strings.HasPrefix(d.Summary, "Missing required argument") {
				continue
			}
			arg := "driver" // the decoder's own: task "t" needs a driver
			if _, rest, ok := strings.Cut(d.Detail, `The argument "`); ok {
				arg, _, _ = strings.Cut(rest, `"`)
			}
			missing[fmt.Sprint(d.Subject.Start.Line, arg)] = true
		}
		for _, p := range ve.Problems {
			rng, found := locate(ranges, p.Path)
			msg := p.Message
			if !found {
				msg = p.String()
			}
			if found && missing[fmt.Sprint(rng.Start.Line, p.Path[strings.LastIndex(p.Path, ".")+1:])] {
				continue
			}
			if rng.Filename == "" {
				rng.Filename = filename
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: msg, Subject: rng.Ptr()})
		}
	}
	if diags.HasErrors() {
		sort.SliceStable(diags, func(i, j int) bool { return diagBefore(diags[i], diags[j]) })
		return nil, &Error{Diags: diags}
	}
	job.LocatedWarnings = locatedWarnings(filename, job, ranges, warns)
	return job, nil
}

// locatedWarnings puts the job's warnings and the parser's own (deprecated
// forms, ignored blocks) in file order, each as "line:col: message".
func locatedWarnings(filename string, job *api.Job, ranges map[string]hcl.Range, warns hcl.Diagnostics) []string {
	all := append(hcl.Diagnostics{}, warns...)
	for _, w := range job.FieldWarnings() {
		d := &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: w.Message}
		if rng, found := locate(ranges, w.Path); found {
			d.Subject = rng.Ptr()
		}
		all = append(all, d)
	}
	sort.SliceStable(all, func(i, j int) bool { return diagBefore(all[i], all[j]) })
	out := []string{}
	for _, w := range all {
		msg := w.Summary
		if w.Detail != "" {
			msg += "; " + w.Detail
		}
		if w.Subject != nil && w.Subject.Start.Line > 0 {
			msg = fmt.Sprintf("%d:%d: %s", w.Subject.Start.Line, w.Subject.Start.Column, msg)
		}
		out = append(out, msg)
	}
	return out
}

func diagBefore(a, b *hcl.Diagnostic) bool {
	if a.Subject == nil || b.Subject == nil {
		return a.Subject != nil
	}
	if a.Subject.Start.Line != b.Subject.Start.Line {
		return a.Subject.Start.Line < b.Subject.Start.Line
	}
	return a.Subject.Start.Column < b.Subject.Start.Column
}

// locate finds the source range of a field path, or of the nearest
// enclosing block that has one ("groups[0].tasks[1].resources.cpu", then
// "groups[0].tasks[1].resources", ...). It reports whether any range was
// found; without one the caller names the field path in the message.
func locate(ranges map[string]hcl.Range, path string) (hcl.Range, bool) {
	for p := path; ; {
		if r, ok := ranges[p]; ok {
			return r, true
		}
		if p == "" {
			return hcl.Range{Filename: "", Start: hcl.Pos{Line: 1, Column: 1}, End: hcl.Pos{Line: 1, Column: 1}}, false
		}
		cut := strings.LastIndexAny(p, ".[")
		if cut < 0 {
			p = ""
		} else {
			p = p[:cut]
		}
	}
}

// Format is what a job file is written in, as its submission records it:
// hcl2, json or yaml.
func Format(filename string, src []byte) string {
	if f := format(filename, src); f == "json" || f == "yaml" {
		return f
	}
	return "hcl2"
}

func format(filename string, src []byte) string {
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".json":
		return "json"
	case ".yaml", ".yml":
		return "yaml"
	}
	// No HCL file starts with a brace: a .nomad or .hcl file that does
	// is a JSON job (what `nomad job inspect` prints, saved as job.nomad).
	trimmed := bytes.TrimSpace(src)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return "json"
	}
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".hcl", ".nomad":
		return "hcl"
	}
	if bytes.HasPrefix(trimmed, []byte("job ")) || bytes.Contains(src, []byte("job \"")) {
		return "hcl"
	}
	if bytes.HasPrefix(trimmed, []byte("id:")) || bytes.HasPrefix(trimmed, []byte("job:")) {
		return "yaml"
	}
	return "hcl"
}

// parseJSON reads the API form: a job object, or {"job": {...}}.
func parseJSON(filename string, src []byte) (*api.Job, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(src, &top); err != nil {
		return nil, jsonError(filename, src, err)
	}
	if isNomadJSON(top) {
		translated, err := translateNomad(src)
		if err != nil {
			return nil, jsonError(filename, src, err)
		}
		var job api.Job
		if err := strictJSON(translated, &job); err != nil {
			// Offsets in the translation mean nothing in the file.
			return nil, jsonError(filename, nil, fmt.Errorf("Nomad JSON job: %w", err))
		}
		return &job, nil
	}
	if _, wrapped := top["job"]; wrapped {
		var wrapper struct {
			Job *api.Job `json:"job"`
		}
		if err := strictJSON(src, &wrapper); err != nil {
			return nil, jsonError(filename, src, err)
		}
		if wrapper.Job == nil {
			return nil, jsonError(filename, src, errors.New(`"job" is null`))
		}
		return wrapper.Job, nil
	}
	var job api.Job
	if err := strictJSON(src, &job); err != nil {
		return nil, jsonError(filename, src, err)
	}
	return &job, nil
}

func strictJSON(src []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the job object")
	}
	return nil
}

// jsonError locates a JSON decoding error in the source.
func jsonError(filename string, src []byte, err error) error {
	offset := int64(-1)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		offset = se.Offset
	case errors.As(err, &te):
		offset = te.Offset
	}
	pos := hcl.Pos{Line: 1, Column: 1}
	if offset >= 0 {
		pos = posAt(src, int(offset))
	}
	return &Error{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "invalid JSON job: " + err.Error(),
		Subject: &hcl.Range{Filename: filename, Start: pos, End: pos}}}}
}

func posAt(src []byte, offset int) hcl.Pos {
	offset = min(offset, len(src))
	line := 1 + bytes.Count(src[:offset], []byte("\n"))
	col := offset - bytes.LastIndexByte(src[:offset], '\n')
	return hcl.Pos{Line: line, Column: col, Byte: offset}
}

func parseYAML(filename string, src []byte) (*api.Job, error) {
	js, err := yaml.YAMLToJSON(src)
	if err != nil {
		return nil, &Error{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "invalid YAML job: " + err.Error(),
			Subject: &hcl.Range{Filename: filename, Start: hcl.Pos{Line: 1, Column: 1}, End: hcl.Pos{Line: 1, Column: 1}}}}}
	}
	job, err := parseJSON(filename, js)
	var je *Error
	if errors.As(err, &je) {
		// Positions in the converted JSON mean nothing in the YAML file.
		for _, d := range je.Diags {
			d.Subject = &hcl.Range{Filename: filename, Start: hcl.Pos{Line: 1, Column: 1}, End: hcl.Pos{Line: 1, Column: 1}}
		}
	}
	return job, err
}

// evaluationFailed reports whether an expression of the file could not be
// evaluated.
func evaluationFailed(diags hcl.Diagnostics) bool {
	for _, d := range diags {
		if d.Severity == hcl.DiagError && d.Expression != nil {
			return true
		}
	}
	return false
}
