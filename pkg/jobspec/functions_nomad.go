package jobspec

// Functions of Nomad's job file language beyond go-cty's standard
// library: encodings, hashes, YAML, type conversions and file reading.
// uuidv4 and timestamp change from one reading of the file to the next, as
// in Nomad: a job that uses them is a new version at every submission
// (what users of the "always change" idiom want).

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"sigs.k8s.io/yaml"
)

// maxFileSize bounds what file() reads into a job.
const maxFileSize = 4 << 20

func stringFunc(impl func(string) (cty.Value, error)) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl:   func(args []cty.Value, _ cty.Type) (cty.Value, error) { return impl(args[0].AsString()) },
	})
}

func hashFunc(h func() hash.Hash) function.Function {
	return stringFunc(func(s string) (cty.Value, error) {
		sum := h()
		sum.Write([]byte(s))
		return cty.StringVal(hex.EncodeToString(sum.Sum(nil))), nil
	})
}

// uuidv4Func makes a random (version 4) UUID.
var uuidv4Func = function.New(&function.Spec{
	Type: function.StaticReturnType(cty.String),
	Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return cty.NilVal, fmt.Errorf("uuidv4: %w", err)
		}
		b[6] = b[6]&0x0f | 0x40 // version 4
		b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
		h := hex.EncodeToString(b[:])
		return cty.StringVal(h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]), nil
	},
})

// timestampFunc is the time of reading, in UTC, as RFC 3339.
var timestampFunc = function.New(&function.Spec{
	Type: function.StaticReturnType(cty.String),
	Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
		return cty.StringVal(time.Now().UTC().Format(time.RFC3339)), nil
	},
})

var yamlDecodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "src", Type: cty.String}},
	Type: func(args []cty.Value) (cty.Type, error) {
		if !args[0].IsKnown() {
			return cty.DynamicPseudoType, nil
		}
		js, err := yaml.YAMLToJSON([]byte(args[0].AsString()))
		if err != nil {
			return cty.NilType, fmt.Errorf("invalid YAML: %w", err)
		}
		return ctyjson.ImpliedType(js)
	},
	Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
		js, err := yaml.YAMLToJSON([]byte(args[0].AsString()))
		if err != nil {
			return cty.NilVal, fmt.Errorf("invalid YAML: %w", err)
		}
		return ctyjson.Unmarshal(js, retType)
	},
})

var yamlEncodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowNull: true}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		if !v.IsWhollyKnown() {
			return cty.UnknownVal(cty.String), nil
		}
		js, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			return cty.NilVal, err
		}
		y, err := yaml.JSONToYAML(js)
		if err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(string(y)), nil
	},
})

var uuidv5Func = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "namespace", Type: cty.String}, {Name: "name", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		var ns uuid.UUID
		switch n := args[0].AsString(); n {
		case "dns":
			ns = uuid.NameSpaceDNS
		case "url":
			ns = uuid.NameSpaceURL
		case "oid":
			ns = uuid.NameSpaceOID
		case "x500":
			ns = uuid.NameSpaceX500
		default:
			p, err := uuid.Parse(n)
			if err != nil {
				return cty.NilVal, fmt.Errorf("uuidv5 namespace %q is not dns, url, oid, x500 or a UUID", n)
			}
			ns = p
		}
		return cty.StringVal(uuid.NewSHA1(ns, []byte(args[1].AsString())).String()), nil
	},
})

func boolListFunc(all bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for _, e := range args[0].AsValueSlice() {
				if e.IsNull() {
					continue
				}
				if e.True() != all {
					return cty.BoolVal(!all), nil
				}
			}
			return cty.BoolVal(all), nil
		},
	})
}

var sumFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Number)}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		total := cty.NumberIntVal(0)
		for _, e := range args[0].AsValueSlice() {
			total = total.Add(e)
		}
		return total, nil
	},
})

func prefixFunc(test func(s, affix string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "affix", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(test(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

func init() {
	extra := map[string]function.Function{
		"base64encode": stringFunc(func(s string) (cty.Value, error) {
			return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(s))), nil
		}),
		"base64decode": stringFunc(func(s string) (cty.Value, error) {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return cty.NilVal, fmt.Errorf("base64decode: %w", err)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("base64decode: the decoded text is not UTF-8")
			}
			return cty.StringVal(string(b)), nil
		}),
		"urlencode":   stringFunc(func(s string) (cty.Value, error) { return cty.StringVal(url.QueryEscape(s)), nil }),
		"md5":         hashFunc(md5.New),
		"sha1":        hashFunc(sha1.New),
		"sha256":      hashFunc(sha256.New),
		"sha512":      hashFunc(sha512.New),
		"uuidv5":      uuidv5Func,
		"yamldecode":  yamlDecodeFunc,
		"yamlencode":  yamlEncodeFunc,
		"tostring":    stdlib.MakeToFunc(cty.String),
		"tonumber":    stdlib.MakeToFunc(cty.Number),
		"tobool":      stdlib.MakeToFunc(cty.Bool),
		"tolist":      stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"toset":       stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tomap":       stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"alltrue":     boolListFunc(true),
		"anytrue":     boolListFunc(false),
		"sum":         sumFunc,
		"startswith":  prefixFunc(strings.HasPrefix),
		"endswith":    prefixFunc(strings.HasSuffix),
		"strcontains": prefixFunc(strings.Contains),
		"uuidv4":      uuidv4Func,
		"timestamp":   timestampFunc,
	}
	for name, f := range extra {
		functions[name] = f
	}
	boundResults()
}

// fileFunctions are file and fileexists for a job file in dir: relative
// paths are read from there, as Nomad's CLI reads them from where it runs.
// With missing set, a file that does not exist reads as "{}" (text that is
// also an empty JSON or YAML object, for jsondecode and yamldecode) and
// missing is told its path (validation with placeholders).
func fileFunctions(dir string, missing func(path string)) map[string]function.Function {
	resolve := func(p string) string {
		if strings.HasPrefix(p, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				p = filepath.Join(home, p[2:])
			}
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return p
	}
	funcs := map[string]function.Function{
		"file": stringFunc(func(p string) (cty.Value, error) {
			b, err := readFileArg(resolve, p)
			if errors.Is(err, fs.ErrNotExist) && missing != nil {
				missing(p)
				return cty.StringVal("{}"), nil
			}
			if err != nil {
				return cty.NilVal, err
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("%s is not UTF-8 text", p)
			}
			return cty.StringVal(string(b)), nil
		}),
		"pathexpand": stringFunc(func(p string) (cty.Value, error) {
			if p == "~" || strings.HasPrefix(p, "~/") {
				home, err := os.UserHomeDir()
				if err != nil {
					return cty.NilVal, fmt.Errorf("pathexpand: %w", err)
				}
				p = filepath.Join(home, strings.TrimPrefix(p, "~"))
			}
			return cty.StringVal(p), nil
		}),
		"abspath": stringFunc(func(p string) (cty.Value, error) {
			abs, err := filepath.Abs(resolve(p))
			if err != nil {
				return cty.NilVal, fmt.Errorf("abspath: %w", err)
			}
			return cty.StringVal(abs), nil
		}),
		"basename": stringFunc(func(p string) (cty.Value, error) { return cty.StringVal(filepath.Base(p)), nil }),
		"dirname":  stringFunc(func(p string) (cty.Value, error) { return cty.StringVal(filepath.Dir(p)), nil }),
		"fileexists": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "path", Type: cty.String}},
			Type:   function.StaticReturnType(cty.Bool),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				fi, err := os.Stat(resolve(args[0].AsString()))
				return cty.BoolVal(err == nil && fi.Mode().IsRegular()), nil
			},
		}),
	}
	for name, f := range moreFileFunctions(resolve, missing) {
		funcs[name] = f
	}
	return funcs
}
