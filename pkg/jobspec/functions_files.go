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
		n := 1
		for _, a := range args {
			if !a.IsKnown() || a.IsNull() || !a.CanIterateElements() {
				return 0
			}
			n *= max(a.LengthInt(), 1)
			if n > maxStringBytes {
				return n
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
// number of names (none too), every other name as path.Match does.
func globMatch(pattern, names []string) bool {
	for len(pattern) > 0 {
		if pattern[0] == "**" {
			for i := 0; i <= len(names); i++ {
				if globMatch(pattern[1:], names[i:]) {
					return true
				}
			}
			return false
		}
		if len(names) == 0 {
			return false
		}
		if ok, err := path.Match(pattern[0], names[0]); err != nil || !ok {
			return false
		}
		pattern, names = pattern[1:], names[1:]
	}
	return len(names) == 0
}
