package api

import "testing"

// A template's or artifact's destination may reach the allocation's
// shared alloc/ directory, as in Nomad, and nothing else outside the task.
func TestDestinationsStayInTheTaskOrTheAllocDirectory(t *testing.T) {
	for p, escapes := range map[string]bool{
		"local/app.conf":      false,
		"/local/app.conf":     false,
		"../alloc/data.txt":   false,
		"local/../secrets/x":  false,
		"../web/local/x":      false, // the task's own directory, the long way
		"../db/local/x":       true,
		"../../etc/passwd":    true,
		"local/../../alloc/x": false,
		"local/../../../x":    true,
	} {
		if got := escapesDir("web", p); got != escapes {
			t.Errorf("escapesDir(web, %q) = %v, want %v", p, got, escapes)
		}
	}
}
