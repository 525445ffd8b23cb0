package controllers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/jobs"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// PeriodicLauncher is a singleton controller that launches periodic jobs
// on their cron schedules: at each due time it registers a child job,
// "<job>-periodic-<unix time>", a copy of the job without its periodic
// block. The child's ID is fixed by the launch time, so a launch repeated
// after a crash finds the child already there and changes nothing. With
// prohibit_overlap, a launch is skipped while an earlier child still runs.
// Missed launches (the cluster was down) are not caught up, as in Nomad.
type PeriodicLauncher struct {
	Store *store.Store
	Cache *store.Cache
	Guard store.Guard
	Now   func() time.Time
	Tick  time.Duration

	mu   sync.Mutex
	jobs map[string]*api.Job // periodic jobs by "namespace/id"
	next map[string]time.Time
}

// Run launches until ctx ends.
func (l *PeriodicLauncher) Run(ctx context.Context) {
	l.jobs, l.next = map[string]*api.Job{}, map[string]time.Time{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Cache.Subscribe(ctx, store.Subscriber{
			Kinds: []store.Kind{store.KindJobs},
			Resync: func(all []store.Change) {
				l.mu.Lock()
				l.jobs = map[string]*api.Job{}
				l.mu.Unlock()
				for _, ch := range all {
					l.track(ch)
				}
			},
			Changed: l.track,
		})
	}()
	t := time.NewTicker(max(l.Tick, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case <-t.C:
			l.launchDue(ctx)
		}
	}
}

func (l *PeriodicLauncher) track(ch store.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := ch.Namespace + "/" + ch.Job
	var j *api.Job
	if !ch.Deleted {
		j, _ = store.Decode[api.Job](ch)
	}
	if j == nil || j.Periodic == nil || !j.Periodic.Enabled || j.Stop {
		delete(l.jobs, key)
		delete(l.next, key)
		return
	}
	old := l.jobs[key]
	l.jobs[key] = j
	if old == nil || old.Version != j.Version {
		delete(l.next, key) // recomputed from now
	}
}

// Next returns when a periodic job is next due after t: the earliest of
// its cron schedules, in its time zone.
func Next(p *api.PeriodicConfig, after time.Time) (time.Time, error) {
	loc := time.UTC
	if p.TimeZone != "" {
		l, err := time.LoadLocation(p.TimeZone)
		if err != nil {
			return time.Time{}, err
		}
		loc = l
	}
	var next time.Time
	for _, c := range p.Crons {
		s, err := api.ParseCron(c)
		if err != nil {
			return time.Time{}, err
		}
		if n := s.Next(after.In(loc)); !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	return next, nil
}

func (l *PeriodicLauncher) launchDue(ctx context.Context) {
	now := l.Now()
	l.mu.Lock()
	var due []*api.Job
	var dueAt []time.Time
	for k, j := range l.jobs {
		at, ok := l.next[k]
		if !ok {
			n, err := Next(j.Periodic, now)
			if err != nil {
				slog.Warn("periodic job has a bad schedule", "job", j.ID, "err", err)
				continue
			}
			l.next[k] = n
			continue
		}
		if !now.Before(at) {
			due = append(due, j)
			dueAt = append(dueAt, at)
			if n, err := Next(j.Periodic, at); err == nil {
				l.next[k] = n
			}
		}
	}
	l.mu.Unlock()
	for i, j := range due {
		if err := l.launch(ctx, j, dueAt[i]); err != nil && ctx.Err() == nil {
			slog.Warn("launching periodic job", "job", j.ID, "err", err)
		}
	}
}

// launch registers the child of a periodic job for one due time.
func (l *PeriodicLauncher) launch(ctx context.Context, j *api.Job, at time.Time) error {
	child, resp, err := jobs.LaunchPeriodic(ctx, l.Store, j, at, l.Now())
	if err != nil {
		return err
	}
	if child == nil {
		slog.Info("periodic launch skipped: the previous one still runs", "job", j.ID, "at", at)
		return nil
	}
	slog.Info("periodic job launched", "job", j.ID, "child", child.ID, "result", resp.Result)
	return nil
}
