package jobspec

import (
	"encoding/json"
	"testing"
)

// A scaling block's policy reaches the API in the shape Nomad's servers
// give it, which the Nomad Autoscaler parses: every block a list, a
// labeled block's body in a list under its label.
func TestScalingPolicyKeepsNomadsShape(t *testing.T) {
	t.Parallel()
	src := `job "web" {
  group "app" {
    scaling {
      max = 10
      policy {
        cooldown = "1m"
        check "avg_cpu" {
          source = "nomad-apm"
          query  = "avg_cpu"
          strategy "target-value" {
            target = 70
          }
        }
        target {
          name = "nomad"
        }
      }
    }
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
    }
  }
}
`
	job, err := Parse("web.nomad.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(job.Groups[0].Scaling.Policy)
	want := `{"check":[{"avg_cpu":[{"query":"avg_cpu","source":"nomad-apm","strategy":[{"target-value":[{"target":70}]}]}]}],"cooldown":"1m","target":[{"name":"nomad"}]}`
	if string(got) != want {
		t.Fatalf("policy:\n%s\nwant\n%s", got, want)
	}
	if sc := job.Groups[0].Scaling; !sc.Enabled || sc.Min != 1 || job.Groups[0].Count != 1 {
		t.Fatalf("scaling %+v, count %d", sc, job.Groups[0].Count)
	}
}
