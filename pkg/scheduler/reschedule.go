package scheduler

import (
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// failTime is when an allocation ended: its last task's finish, or its
// last status report.
func failTime(a *api.Allocation) time.Time {
	var t time.Time
	if a.Status != nil {
		t = a.Status.UpdateTime
		for _, ts := range a.Status.Tasks {
			if ts.FinishedAt.After(t) {
				t = ts.FinishedAt
			}
		}
	}
	if t.IsZero() {
		t = a.ModifyTime
	}
	return t
}

// rescheduleDecision decides about a failed allocation: replace it now
// (ok), later (wait is when), or never (neither: the policy's attempts are
// used up).
func (r *reconciler) rescheduleDecision(g *api.TaskGroup, a *api.Allocation) (replacement, bool, time.Time) {
	pol := g.Reschedule
	if pol == nil {
		return replacement{}, false, time.Time{}
	}
	now := r.now
	attempts := 0
	for _, ev := range a.RescheduleTracker {
		if pol.Interval <= 0 || now.Sub(ev.Time) < pol.Interval.Std() {
			attempts++
		}
	}
	if !pol.Unlimited && attempts >= pol.Attempts {
		return replacement{}, false, time.Time{}
	}
	delay := RescheduleDelay(pol, len(a.RescheduleTracker))
	when := failTime(a).Add(delay.Std())
	if now.Before(when) {
		return replacement{}, false, when
	}
	return replacement{prev: a, kind: replaceReschedule, delay: delay, index: a.Index}, true, time.Time{}
}

// RescheduleDelay is the delay before the (n+1)-th reschedule of an
// allocation: constant; doubled each time (exponential); or following the
// fibonacci sequence; never more than max_delay when that is set.
func RescheduleDelay(pol *api.ReschedulePolicy, n int) api.Duration {
	d := pol.Delay
	switch pol.DelayFunction {
	case "exponential":
		for i := 0; i < n && (pol.MaxDelay == 0 || d < pol.MaxDelay); i++ {
			d *= 2
		}
	case "fibonacci":
		a, b := pol.Delay, pol.Delay
		for i := 1; i < n && (pol.MaxDelay == 0 || b < pol.MaxDelay); i++ {
			a, b = b, a+b
		}
		if n > 0 {
			d = b
		}
	}
	if pol.MaxDelay > 0 && d > pol.MaxDelay {
		d = pol.MaxDelay
	}
	return d
}
