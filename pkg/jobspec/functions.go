package jobspec

import (
	"errors"
	"fmt"
	"math"
	"regexp"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions is the function library of job files: go-cty's standard
// library under the names Nomad and Terraform users know, plus try and
// can; setproduct is left out, as its result grows as the product of its
// inputs' sizes.
var functions = map[string]function.Function{
	"abs":             stdlib.AbsoluteFunc,
	"can":             tryfunc.CanFunc,
	"ceil":            stdlib.CeilFunc,
	"chomp":           stdlib.ChompFunc,
	"chunklist":       stdlib.ChunklistFunc,
	"coalesce":        stdlib.CoalesceFunc,
	"coalescelist":    stdlib.CoalesceListFunc,
	"compact":         stdlib.CompactFunc,
	"concat":          stdlib.ConcatFunc,
	"contains":        stdlib.ContainsFunc,
	"csvdecode":       stdlib.CSVDecodeFunc,
	"distinct":        stdlib.DistinctFunc,
	"element":         stdlib.ElementFunc,
	"flatten":         stdlib.FlattenFunc,
	"floor":           stdlib.FloorFunc,
	"format":          stdlib.FormatFunc,
	"formatdate":      stdlib.FormatDateFunc,
	"formatlist":      stdlib.FormatListFunc,
	"indent":          stdlib.IndentFunc,
	"index":           stdlib.IndexFunc,
	"int":             stdlib.IntFunc,
	"join":            stdlib.JoinFunc,
	"jsondecode":      stdlib.JSONDecodeFunc,
	"jsonencode":      stdlib.JSONEncodeFunc,
	"keys":            stdlib.KeysFunc,
	"length":          stdlib.LengthFunc,
	"log":             stdlib.LogFunc,
	"lookup":          stdlib.LookupFunc,
	"lower":           stdlib.LowerFunc,
	"max":             stdlib.MaxFunc,
	"merge":           stdlib.MergeFunc,
	"min":             stdlib.MinFunc,
	"parseint":        stdlib.ParseIntFunc,
	"pow":             stdlib.PowFunc,
	"range":           stdlib.RangeFunc,
	"regex":           stdlib.RegexFunc,
	"regexall":        stdlib.RegexAllFunc,
	"regex_replace":   stdlib.RegexReplaceFunc,
	"replace":         stdlib.ReplaceFunc,
	"reverse":         stdlib.ReverseListFunc,
	"setintersection": stdlib.SetIntersectionFunc,
	"setsubtract":     stdlib.SetSubtractFunc,
	"setunion":        stdlib.SetUnionFunc,
	"signum":          stdlib.SignumFunc,
	"slice":           stdlib.SliceFunc,
	"sort":            stdlib.SortFunc,
	"split":           stdlib.SplitFunc,
	"strlen":          stdlib.StrlenFunc,
	"strrev":          stdlib.ReverseFunc,
	"substr":          stdlib.SubstrFunc,
	"timeadd":         stdlib.TimeAddFunc,
	"title":           stdlib.TitleFunc,
	"trim":            stdlib.TrimFunc,
	"trimprefix":      stdlib.TrimPrefixFunc,
	"trimspace":       stdlib.TrimSpaceFunc,
	"trimsuffix":      stdlib.TrimSuffixFunc,
	"try":             tryfunc.TryFunc,
	"upper":           stdlib.UpperFunc,
	"values":          stdlib.ValuesFunc,
	"zipmap":          stdlib.ZipmapFunc,
}

// maxElements bounds what a job file's functions may build, so that a
// typo (or the fuzzer) cannot make the parser exhaust memory.
const maxElements = 100000

func init() {
	functions["range"] = bounded(stdlib.RangeFunc, func(args []cty.Value) error {
		nums := make([]float64, len(args))
		for i, a := range args {
			if !a.IsKnown() || a.IsNull() {
				return nil
			}
			f, _ := a.AsBigFloat().Float64()
			nums[i] = f
		}
		start, limit, step := 0.0, 0.0, 1.0
		switch len(nums) {
		case 1:
			limit = nums[0]
		case 2:
			start, limit = nums[0], nums[1]
		case 3:
			start, limit, step = nums[0], nums[1], nums[2]
		}
		if step != 0 && math.Abs((limit-start)/step) > maxElements {
			return fmt.Errorf("range of more than %d elements", maxElements)
		}
		return nil
	})
	width := regexp.MustCompile(`%[-+# 0]*[0-9]{5,}|\.[0-9]{5,}`)
	for _, name := range []string{"format", "formatlist"} {
		functions[name] = bounded(functions[name], func(args []cty.Value) error {
			if len(args) > 0 && args[0].IsKnown() && !args[0].IsNull() && args[0].Type() == cty.String && width.MatchString(args[0].AsString()) {
				return errors.New("format widths and precisions are limited to 4 digits")
			}
			return nil
		})
	}
}

// bounded wraps a function with a check of its arguments.
func bounded(f function.Function, check func([]cty.Value) error) function.Function {
	spec := &function.Spec{Params: f.Params(), VarParam: f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) { return f.ReturnTypeForValues(args) },
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			if err := check(args); err != nil {
				return cty.NilVal, err
			}
			return f.Call(args)
		},
	}
	return function.New(spec)
}
