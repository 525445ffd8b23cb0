package mock

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/driver"
)

func TestMockRunsForItsTimeAndExitsWithItsCode(t *testing.T) {
	d := &Driver{}
	h, err := d.Start(context.Background(), &driver.TaskConfig{AllocID: "a", TaskName: "t", Config: map[string]any{"run_for": "50ms", "exit_code": 3.0}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := h.Wait(ctx)
	if err != nil || res.ExitCode != 3 {
		t.Fatalf("result %+v %v", res, err)
	}
	if _, err := d.Recover(context.Background(), h.State()); err != driver.ErrTaskGone {
		t.Fatalf("recover after exit: %v", err)
	}
}

func TestMockStopsAndRecoversAndFailsToStartOnRequest(t *testing.T) {
	d := &Driver{}
	h, err := d.Start(context.Background(), &driver.TaskConfig{AllocID: "a", TaskName: "t"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Recover(context.Background(), h.State())
	if err != nil || r != h {
		t.Fatalf("recover: %v", err)
	}
	if err := h.Stop(context.Background(), syscall.SIGTERM, time.Second); err != nil {
		t.Fatal(err)
	}
	res, _ := h.Wait(context.Background())
	if res.Signal != int(syscall.SIGTERM) {
		t.Fatalf("stop: %+v", res)
	}
	if _, err := d.Start(context.Background(), &driver.TaskConfig{Config: map[string]any{"start_error": "boom"}}); err == nil || err.Error() != "boom" {
		t.Fatalf("start_error: %v", err)
	}
	for _, bad := range []map[string]any{{"run_for": "soon"}, {"exit_code": 300.0}, {"nope": 1.0}} {
		if d.Validate(bad) == nil {
			t.Errorf("accepted %v", bad)
		}
	}
}
