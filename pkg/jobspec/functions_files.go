package jobspec

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// maxFilesetVisits bounds how many directory entries fileset looks at,
// so that a pattern over a large tree cannot stall a parse.
const maxFilesetVisits = 10000

func init() {
	functions["base64gzip"] = stringFunc(func(s string) (cty.Value, error) {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		if _, err := w.Write([]byte(s)); err != nil {
			return cty.NilVal, fmt.Errorf("base64gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return cty.NilVal, fmt.Errorf("base64gzip: %w", err)
		}
		return cty.StringVal(base64.StdEncoding.EncodeToString(b.Bytes())), nil
	})
	functions["setproduct"] = stdlib.SetProductFunc
	estimates["setproduct"] = func(args []cty.Value) int {
		// Counted against maxStringBytes as the others are, but the
		// product must stay within maxElements too: refuse past it
		// before a tuple is built.
		n := 1
		for _, a := range args {
			if !a.IsKnown() || a.IsNull() || !a.CanIterateElements() {
				return 0
			}
			n *= max(a.LengthInt(), 1)
			if n > maxElements {
				return maxStringBytes + 1
			}
		}
		return n * max(len(args), 1)
	}
	// convert(value, type): the second argument is a type expression
	// (string, list(number), object({…})), as in Nomad's job files.
	functions["convert"] = typeexpr.ConvertFunc
}

// moreFileFunctions are filebase64 and fileset, beside file (see
// fileFunctions), for a job file in dir.
func moreFileFunctions(resolve func(string) string, missing func(string)) map[string]function.Function {
	return map[string]function.Function{
		"filebase64": stringFunc(func(p string) (cty.Value, error) {
			b, err := readFileArg(resolve, p)
			if errors.Is(err, fs.ErrNotExist) && missing != nil {
				missing(p)
				return cty.StringVal(""), nil
			}
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(base64.StdEncoding.EncodeToString(b)), nil
		}),
		// fileset(path, pattern): the files under path whose path
		// relative to it matches pattern (*, ?, [..] within a name, **
		// across directories), relative to path, with '/' between names.
		"fileset": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "path", Type: cty.String}, {Name: "pattern", Type: cty.String}},
			Type:   function.StaticReturnType(cty.Set(cty.String)),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				root, pattern := resolve(args[0].AsString()), args[1].AsString()
				if _, err := path.Match(strings.ReplaceAll(pattern, "**", "*"), ""); err != nil {
					return cty.NilVal, fmt.Errorf("fileset: pattern %q: %w", pattern, err)
				}
				var found []string
				visits := 0
				err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
					if err != nil {
						if p == root && errors.Is(err, fs.ErrNotExist) {
							return fs.SkipAll // no such directory: no files
						}
						return err
					}
					if visits++; visits > maxFilesetVisits {
						return fmt.Errorf("more than %d entries under %s", maxFilesetVisits, args[0].AsString())
					}
					if !d.Type().IsRegular() {
						return nil
					}
					rel, err := filepath.Rel(root, p)
					if err != nil {
						return err
					}
					rel = filepath.ToSlash(rel)
					if globMatch(strings.Split(pattern, "/"), strings.Split(rel, "/")) {
						found = append(found, rel)
					}
					return nil
				})
				if err != nil {
					return cty.NilVal, fmt.Errorf("fileset: %w", err)
				}
				if len(found) == 0 {
					return cty.SetValEmpty(cty.String), nil
				}
				sort.Strings(found)
				vals := make([]cty.Value, len(found))
				for i, f := range found {
					vals[i] = cty.StringVal(f)
				}
				return cty.SetVal(vals), nil
			},
		}),
	}
}

// noFileFunc stands for a file function where files are not read.
func noFileFunc(name string) function.Function {
	return function.New(&function.Spec{
		VarParam: &function.Parameter{Name: "args", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true, AllowDynamicType: true},
		Type:     function.StaticReturnType(cty.DynamicPseudoType),
		Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
			return cty.NilVal, fmt.Errorf("%s reads files, which a server does not do for a job file it parses: parse it where its files are (nomad job run, nctl apply)", name)
		},
	})
}

// readFileArg reads the file a file function names: a regular file of at
// most maxFileSize. An error wraps fs.ErrNotExist when there is none.
func readFileArg(resolve func(string) string, p string) ([]byte, error) {
	fi, err := os.Stat(resolve(p))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading %s: not a regular file", p)
	}
	if fi.Size() > maxFileSize {
		return nil, fmt.Errorf("reading %s: larger than %d MiB", p, maxFileSize>>20)
	}
	b, err := os.ReadFile(resolve(p))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return b, nil
}

// globMatch matches a path's names against a pattern's: "**" matches any
// number of names (none too), every other name as path.Match does. It
// fills a table of (pattern position, name position), so that many "**"
// cost their product, not an exponential of it.
func globMatch(pattern, names []string) bool {
	// Consecutive "**" are one.
	var pat []string
	for _, p := range pattern {
		if p == "**" && len(pat) > 0 && pat[len(pat)-1] == "**" {
			continue
		}
		pat = append(pat, p)
	}
	// ok[i][j]: pat[i:] matches names[j:].
	ok := make([][]bool, len(pat)+1)
	for i := range ok {
		ok[i] = make([]bool, len(names)+1)
	}
	ok[len(pat)][len(names)] = true
	for i := len(pat) - 1; i >= 0; i-- {
		for j := len(names); j >= 0; j-- {
			if pat[i] == "**" {
				ok[i][j] = ok[i+1][j] || (j < len(names) && ok[i][j+1])
				continue
			}
			if j < len(names) {
				m, err := path.Match(pat[i], names[j])
				ok[i][j] = err == nil && m && ok[i+1][j+1]
			}
		}
	}
	return ok[0][0]
}
