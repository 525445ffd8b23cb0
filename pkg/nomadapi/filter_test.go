package nomadapi

import "testing"

func TestFiltersReadNomadsExpressions(t *testing.T) {
	type job struct {
		ID               string
		ParentID         string
		ParameterizedJob *struct{ Payload string }
		Meta             map[string]string
		Tags             []string
	}
	param := job{ID: "p", ParameterizedJob: &struct{ Payload string }{"required"}, Meta: map[string]string{"team": "a"}, Tags: []string{"prod"}}
	child := job{ID: "p/dispatch-1", ParentID: "p"}
	for _, c := range []struct {
		expr       string
		param, kid bool
	}{
		{`ParentID == "" and ParameterizedJob is not nil`, true, false},
		{`ParameterizedJob is nil`, false, true},
		{`ParentID == "p" or Meta.team == "a"`, true, true},
		{`Meta["team"] is not empty`, true, false},
		{`"prod" in Tags`, true, false},
		{`ID matches "^p/dispatch-[0-9]+$"`, false, true},
		{`not ID contains "/"`, true, false},
	} {
		f, err := parseFilter(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := f.match(param); got != c.param {
			t.Errorf("%s on the parameterized job: %v", c.expr, got)
		}
		if got := f.match(child); got != c.kid {
			t.Errorf("%s on its child: %v", c.expr, got)
		}
	}
	if _, err := parseFilter(`ID ~= "x"`); err == nil {
		t.Error("an operator outside the grammar was accepted")
	}
}

func TestIDPrefixIgnoresDashes(t *testing.T) {
	id := "05b58d0f-d019-4c3e-9a57-2f1f1c0e3b11"
	for prefix, want := range map[string]bool{
		"": true, "05b5": true, "05b58d0f-d0": true, "05b58d0fd019": true, "05b58d0fd0194c3e9a57": true,
		"05b58d0f-d019-": true, "05b58d0e": false, "05b58d0fd018": false, id + "0": false,
	} {
		if got := idPrefix(id, prefix); got != want {
			t.Errorf("idPrefix(%q) = %v, want %v", prefix, got, want)
		}
	}
}
