package api

import (
	"strings"
	"testing"
)

func TestScaleKeepsACountWithinTheGroupsBounds(t *testing.T) {
	job := func(typ string) *Job {
		return &Job{ID: "web", Type: typ, Groups: []*TaskGroup{
			{Name: "free", Count: 1},
			{Name: "bounded", Count: 2, Scaling: &ScalingPolicy{Min: 1, Max: 3}},
		}}
	}
	for _, tc := range []struct {
		name, typ, group string
		count            int
		want             string
	}{
		{"a group without scaling takes any count", JobTypeService, "free", 9, ""},
		{"a bounded group within its bounds", JobTypeBatch, "bounded", 3, ""},
		{"a bounded group above max", JobTypeService, "bounded", 4, `count 4 is outside the scaling bounds of group "bounded": 1 to 3`},
		{"a bounded group below min", JobTypeService, "bounded", 0, "outside the scaling bounds"},
		{"a negative count", JobTypeService, "free", -1, "must not be negative"},
		{"an unknown group", JobTypeService, "nope", 1, `job "web" has no group "nope": it does not exist (groups: free, bounded)`},
		{"a system job", JobTypeSystem, "free", 2, "cannot be scaled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := job(tc.typ)
			err := j.Scale(tc.group, tc.count)
			if tc.want == "" {
				if err != nil || j.LookupGroup(tc.group).Count != tc.count {
					t.Fatalf("err %v, count %d", err, j.LookupGroup(tc.group).Count)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if j.Groups[0].Count != 1 || j.Groups[1].Count != 2 {
				t.Fatal("a refused scale changed a count")
			}
		})
	}
}
