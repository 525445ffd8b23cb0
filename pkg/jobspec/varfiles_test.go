package jobspec

import (
	"slices"
	"testing"
)

func TestVarFilesApplyInTheOrderGiven(t *testing.T) {
	files := map[string][]byte{"a": nil, "b": nil, "c": nil, "z": nil}
	for _, c := range []struct {
		order []string
		want  []string
	}{
		{nil, []string{"a", "b", "c", "z"}},
		{[]string{"z", "b"}, []string{"z", "b", "a", "c"}},      // the others after, by name
		{[]string{"a", "b", "a"}, []string{"b", "a", "c", "z"}}, // a file given twice applies where it was given last
		{[]string{"gone", "c"}, []string{"c", "a", "b", "z"}},   // a name without a file is skipped
	} {
		if got := (&Options{VarFiles: files, VarFileOrder: c.order}).VarFileNames(); !slices.Equal(got, c.want) {
			t.Errorf("order %v: %v, want %v", c.order, got, c.want)
		}
	}
}
