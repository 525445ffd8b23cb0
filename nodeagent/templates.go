package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/artifact"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/tmpl"
)

// A task's files, before it starts and while it runs: its artifacts are
// fetched once, its workload identity handed over if it asks, and its
// templates rendered before every start; the task starts only once every
// template rendered. While it runs, a change of a variable or of a
// service instance its templates read renders them again, and a template
// whose output changed applies its change_mode.

// ArtifactLimits bound the agent's artifact downloads.
type ArtifactLimits = artifact.Limits

// hookError is a prestart failure with the task event type it shows as.
type hookError struct {
	typ string
	err error
}

func (e *hookError) Error() string { return e.err.Error() }
func (e *hookError) Unwrap() error { return e.err }

// Task event types of the prestart hooks.
const (
	eventTemplate          = "Template"
	eventDownloading       = "Downloading Artifacts"
	eventArtifactFailed    = "Failed Artifact Download"
	eventTemplateFailed    = "Template Failed"
	eventIdentityFailed    = "Identity Failed"
	templateRestartMessage = "template with change_mode restart re-rendered"
)

// taskFiles is what the prestart hooks keep across a task's starts.
type taskFiles struct {
	mu      sync.Mutex // held while rendering
	fetched bool
	tokMu   sync.Mutex
	token   string
	// last is each template's last output (nil: not rendered yet).
	last []*string
	used tmpl.Used
	// triggers start once each: the watch of variables and of services.
	varsOnce, svcOnce sync.Once
	notify            chan struct{}
}

// prestart runs the task's hooks before a start and returns the
// environment the task gets on top of env.
func (r *allocRunner) prestart(ctx context.Context, tr *taskRunner, ts *api.TaskState, allocDir string, env []string) ([]string, error) {
	t := tr.task
	f := tr.files
	if len(t.Artifacts) > 0 && !f.fetched {
		r.mu.Lock()
		r.event(ts, eventDownloading, fmt.Sprintf("fetching %d artifact(s)", len(t.Artifacts)))
		r.mu.Unlock()
		r.writeStatus(ctx)
		for i, art := range t.Artifacts {
			if err := r.fetchArtifact(ctx, tr, allocDir, art, envMap(env)); err != nil {
				return nil, &hookError{eventArtifactFailed, fmt.Errorf("artifact %d (%s): %w", i, art.Source, err)}
			}
		}
		f.fetched = true
	}
	var extra []string
	if id := t.DefaultIdentity(); id != nil && (id.Env || id.File) {
		tok, err := r.token(ctx, tr)
		if err != nil {
			return nil, &hookError{eventIdentityFailed, err}
		}
		if id.Env {
			extra = append(extra, "NOMAD_TOKEN="+tok)
		}
		if id.File {
			if err := writeInAlloc(allocDir, path.Join(t.Name, "secrets", "nomad_token"), []byte(tok), 0o600, nil, nil); err != nil {
				return nil, &hookError{eventIdentityFailed, err}
			}
		}
	}
	if len(t.Templates) == 0 {
		return extra, nil
	}
	tenv, err := r.renderFirst(ctx, tr, allocDir, append(env, extra...))
	if err != nil {
		return nil, err
	}
	return append(extra, tenv...), nil
}

func (r *allocRunner) fetchArtifact(ctx context.Context, tr *taskRunner, allocDir string, a *api.Artifact, env map[string]string) error {
	dest := a.Destination
	if dest == "" {
		dest = "local"
	}
	rel, err := resolveInAlloc(allocDir, tr.task.Name, dest, env)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(allocDir)
	if err != nil {
		return err
	}
	defer root.Close()
	spec := artifact.Spec{Source: interpolate(a.Source, env), Mode: a.Mode, Checksum: a.Options["checksum"], Archive: a.Options["archive"], Headers: a.Headers}
	return artifact.Fetch(ctx, spec, root, rel, r.a.cfg.Artifacts)
}

// token waits for the task's workload identity.
func (r *allocRunner) token(ctx context.Context, tr *taskRunner) (string, error) {
	tr.files.tokMu.Lock()
	tok := tr.files.token
	tr.files.tokMu.Unlock()
	if tok != "" {
		return tok, nil
	}
	tok, err := r.a.ids.wait(ctx, r.current().ID, tr.task.Name)
	if err != nil {
		return "", err
	}
	tr.files.tokMu.Lock()
	tr.files.token = tok
	tr.files.tokMu.Unlock()
	return tok, nil
}

// renderFirst renders every template, waiting while one misses data (a
// variable that does not exist yet), and returns the environment of the
// env templates.
func (r *allocRunner) renderFirst(ctx context.Context, tr *taskRunner, allocDir string, env []string) ([]string, error) {
	reported := ""
	for {
		res, err := r.renderAll(ctx, tr, allocDir, env)
		var missing *tmpl.MissingError
		switch {
		case errors.As(err, &missing):
			if msg := "Missing: " + strings.Join(missing.What, ", "); msg != reported {
				reported = msg
				r.taskEvent(ctx, tr.task.Name, eventTemplate, msg)
			}
		case err != nil:
			return nil, &hookError{eventTemplateFailed, err}
		default:
			return res.env, nil
		}
		tr.startTriggers(ctx)
		select {
		case <-tr.files.notify:
		case <-tr.killed:
			return nil, errors.New("the task was stopped while its templates waited for data")
		case <-r.stopCh:
			return nil, errors.New("the allocation stopped while the task's templates waited for data")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// renderResult is what one pass over a task's templates did.
type renderResult struct {
	changed []*api.Template
	env     []string
}

// renderAll renders the task's templates and writes those whose output
// changed. A missing datum in any template stops the pass with a
// *tmpl.MissingError, leaving every file as it was.
func (r *allocRunner) renderAll(ctx context.Context, tr *taskRunner, allocDir string, env []string) (*renderResult, error) {
	f := tr.files
	f.mu.Lock()
	defer f.mu.Unlock()
	t := tr.task
	if f.last == nil {
		f.last = make([]*string, len(t.Templates))
	}
	em := envMap(env)
	src := &tplSource{ctx: ctx, r: r, tr: tr, env: em, allocDir: allocDir}
	type out struct {
		rel  string
		text string
	}
	outs := make([]out, len(t.Templates))
	for i, tpl := range t.Templates {
		rel, err := resolveInAlloc(allocDir, t.Name, tpl.Destination, em)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", tpl.Destination, err)
		}
		text := tpl.Data
		if tpl.Source != "" {
			srel, err := resolveInAlloc(allocDir, t.Name, tpl.Source, em)
			if err != nil {
				return nil, fmt.Errorf("template source %s: %w", tpl.Source, err)
			}
			b, err := readInAlloc(allocDir, srel)
			if err != nil {
				return nil, fmt.Errorf("template source %s: %w", tpl.Source, err)
			}
			text = string(b)
		}
		rendered, used, err := tmpl.Render(text, tmpl.Options{Name: tpl.Destination, LeftDelim: tpl.LeftDelim, RightDelim: tpl.RightDelim,
			ErrorOnMissingKey: tpl.ErrMissingKey}, src)
		f.used.Vars = f.used.Vars || used.Vars
		f.used.Services = f.used.Services || used.Services
		if err != nil {
			return nil, err
		}
		outs[i] = out{rel, rendered}
	}
	res := &renderResult{}
	for i, tpl := range t.Templates {
		o := outs[i]
		if f.last[i] == nil {
			// After an agent restart the file on disk is what the task
			// last saw.
			if b, err := readInAlloc(allocDir, o.rel); err == nil {
				s := string(b)
				f.last[i] = &s
			}
		}
		if f.last[i] == nil || *f.last[i] != o.text {
			perm := os.FileMode(0o644)
			if tpl.Perms != "" {
				if n, err := strconv.ParseUint(tpl.Perms, 8, 32); err == nil {
					perm = os.FileMode(n)
				}
			}
			if err := writeInAlloc(allocDir, o.rel, []byte(o.text), perm, tpl.UID, tpl.GID); err != nil {
				return nil, fmt.Errorf("template %s: %w", tpl.Destination, err)
			}
			if f.last[i] != nil {
				res.changed = append(res.changed, tpl)
			}
			s := o.text
			f.last[i] = &s
		}
		if tpl.Env {
			res.env = append(res.env, parseEnvFile(o.text)...)
		}
	}
	return res, nil
}

// taskEvent records an event of a task and writes the status.
func (r *allocRunner) taskEvent(ctx context.Context, task, typ, msg string) {
	r.mu.Lock()
	if ts := r.status.Tasks[task]; ts != nil {
		r.event(ts, typ, msg)
	}
	r.mu.Unlock()
	r.writeStatus(ctx)
}

// poke tells the task's template watch that its data may have changed.
func (f *taskFiles) poke() {
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

// startTriggers starts the watches the templates' data needs, once each:
// a blocking query of the variables (with the task's identity) and the
// catalog of the task's namespace.
func (tr *taskRunner) startTriggers(ctx context.Context) {
	f := tr.files
	f.mu.Lock()
	used := f.used
	f.mu.Unlock()
	r := tr.r
	if used.Vars {
		f.varsOnce.Do(func() {
			tr.watches.Go(func() { tr.watchVars(tr.watchCtx) })
		})
	}
	if used.Services {
		f.svcOnce.Do(func() {
			n := r.a.cat.namespace(tr.job.Namespace)
			tr.watches.Go(func() {
				for {
					select {
					case <-n.changes():
						f.poke()
					case <-tr.watchCtx.Done():
						return
					}
				}
			})
		})
	}
}

// watchVars pokes the task's templates at every change of a variable,
// through blocking queries to the servers.
func (tr *taskRunner) watchVars(ctx context.Context) {
	r := tr.r
	tok, err := r.token(ctx, tr)
	if err != nil {
		return
	}
	var index int64
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		next, err := r.a.vars.WaitVars(ctx, tok, tr.job.Namespace, index)
		if err != nil {
			if ctx.Err() == nil {
				slog.Debug("waiting for variables", "task", tr.task.Name, "err", err)
				sleepCtx(ctx, backoff)
				backoff = min(backoff*2, 10*time.Second)
			}
			continue
		}
		backoff = 500 * time.Millisecond
		// The first answer only sets the index, but a change may have
		// come between the render and it.
		if next != index {
			tr.files.poke()
		}
		index = next
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// watchTemplates renders the task's templates again whenever their data
// changes, and applies the change_mode of those whose output changed,
// until ctx ends.
func (tr *taskRunner) watchTemplates(ctx context.Context) {
	r := tr.r
	tr.startTriggers(ctx)
	minWait, maxWait := tr.waits()
	for {
		select {
		case <-tr.files.notify:
		case <-ctx.Done():
			return
		}
		if !tr.debounce(ctx, minWait, maxWait) {
			return
		}
		alloc := r.current()
		allocDir := r.a.AllocDir(alloc.ID)
		env := taskEnv(r.a, tr.job, tr.group, tr.task, alloc, allocDir, filepath.Join(allocDir, tr.task.Name))
		res, err := r.renderAll(ctx, tr, allocDir, env)
		tr.startTriggers(ctx)
		var missing *tmpl.MissingError
		switch {
		case errors.As(err, &missing):
			r.taskEvent(ctx, tr.task.Name, eventTemplate, "Missing: "+strings.Join(missing.What, ", ")+" (the files stay as they were)")
			continue
		case err != nil:
			if ctx.Err() == nil {
				r.taskEvent(ctx, tr.task.Name, eventTemplateFailed, err.Error()+" (the files stay as they were)")
			}
			continue
		}
		if len(res.changed) > 0 {
			tr.applyChanges(ctx, res.changed, env)
		}
	}
}

// waits are the task's template wait bounds: the longest min and max.
func (tr *taskRunner) waits() (time.Duration, time.Duration) {
	var lo, hi time.Duration
	for _, t := range tr.task.Templates {
		if t.Wait != nil {
			lo, hi = max(lo, t.Wait.Min.Std()), max(hi, t.Wait.Max.Std())
		}
	}
	return lo, hi
}

// debounce waits until no change came for min, or max passed since the
// first; it reports false when ctx ended.
func (tr *taskRunner) debounce(ctx context.Context, minWait, maxWait time.Duration) bool {
	if minWait <= 0 {
		return ctx.Err() == nil
	}
	var deadline <-chan time.Time
	if maxWait > 0 {
		t := time.NewTimer(maxWait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		quiet := time.NewTimer(minWait)
		select {
		case <-quiet.C:
			return true
		case <-tr.files.notify:
			quiet.Stop()
		case <-deadline:
			quiet.Stop()
			return true
		case <-ctx.Done():
			quiet.Stop()
			return false
		}
	}
}

// applyChanges carries out the change_mode of the templates that
// changed: one restart if any asks for it, else each signal once, and
// the scripts; after a random wait up to the longest splay.
func (tr *taskRunner) applyChanges(ctx context.Context, changed []*api.Template, env []string) {
	var splay time.Duration
	restart := false
	var signals []string
	var scripts []*api.ChangeScript
	for _, t := range changed {
		splay = max(splay, t.Splay.Std())
		switch t.ChangeMode {
		case "", "restart":
			restart = true
		case "signal":
			if !contains(signals, t.ChangeSignal) {
				signals = append(signals, t.ChangeSignal)
			}
		case "script":
			scripts = append(scripts, t.ChangeScript)
		}
	}
	if splay > 0 {
		sleepCtx(ctx, rand.N(splay))
	}
	if ctx.Err() != nil {
		return
	}
	if restart {
		tr.restartFor(templateRestartMessage)
		return
	}
	for _, sig := range signals {
		tr.signalFor(sig, "template re-rendered: sending "+sig)
	}
	for _, s := range scripts {
		tr.runChangeScript(ctx, s, env)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// runChangeScript runs a change_script on the node, in the task's
// directory with its environment; a failure is a task event, and with
// fail_on_error kills the task.
func (tr *taskRunner) runChangeScript(ctx context.Context, s *api.ChangeScript, env []string) {
	if s == nil {
		return
	}
	r := tr.r
	timeout := s.Timeout.Std()
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, s.Command, s.Args...)
	cmd.Dir = filepath.Join(r.a.AllocDir(r.current().ID), tr.task.Name)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		r.taskEvent(ctx, tr.task.Name, eventTemplate, "change_script ran: "+trim(out))
		return
	}
	r.taskEvent(ctx, tr.task.Name, eventTemplateFailed, fmt.Sprintf("change_script %s failed: %v: %s", s.Command, err, trim(out)))
	if s.FailOnError {
		tr.kill(ctx, "change_script failed")
	}
}

// tplSource is what a task's templates read.
type tplSource struct {
	ctx      context.Context
	r        *allocRunner
	tr       *taskRunner
	env      map[string]string
	allocDir string
}

func (s *tplSource) Env(k string) string { return s.env[k] }

func (s *tplSource) Var(p string) (map[string]string, error) {
	tok, err := s.r.token(s.ctx, s.tr)
	if err != nil {
		return nil, err
	}
	v, err := s.r.a.vars.GetVar(s.ctx, tok, s.tr.job.Namespace, p)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &tmpl.MissingError{What: []string{p}}
	}
	if err != nil {
		return nil, err
	}
	return v.Items, nil
}

func (s *tplSource) VarList(prefix string) ([]*api.Variable, error) {
	tok, err := s.r.token(s.ctx, s.tr)
	if err != nil {
		return nil, err
	}
	return s.r.a.vars.ListVars(s.ctx, tok, s.tr.job.Namespace, prefix)
}

func (s *tplSource) Services(name string) ([]*api.ServiceRegistration, error) {
	return s.r.a.cat.namespace(s.tr.job.Namespace).healthy(s.ctx, name)
}

func (s *tplSource) File(p string) (string, error) {
	rel, err := resolveInAlloc(s.allocDir, s.tr.task.Name, p, s.env)
	if err != nil {
		return "", err
	}
	b, err := readInAlloc(s.allocDir, rel)
	return string(b), err
}

// envMap is an environment list as a map.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z0-9_.\-]+)\}`)

// interpolate replaces ${NAME} with the task's environment variable NAME
// (${NOMAD_TASK_DIR}, ${NOMAD_ALLOC_DIR}, ...); unknown names stay.
func interpolate(s string, env map[string]string) string {
	return interpolation.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := env[name]; ok {
			return v
		}
		return m
	})
}

// resolveInAlloc turns a template's or artifact's path into a path
// relative to the allocation directory: relative paths are the task
// directory's; absolute ones inside the allocation directory stay there,
// other absolute ones are taken inside the task directory (as the task
// sees it: /local/x is local/x). The result must lie in the task's
// directory or the allocation's shared alloc/ directory.
func resolveInAlloc(allocDir, task, p string, env map[string]string) (string, error) {
	p = filepath.Clean(interpolate(p, env))
	if filepath.IsAbs(p) {
		if rel, err := filepath.Rel(allocDir, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			p = rel
		} else {
			p = filepath.Join(task, p)
		}
	} else {
		p = filepath.Join(task, p)
	}
	p = filepath.ToSlash(filepath.Clean(p))
	for _, dir := range []string{task, "alloc"} {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return p, nil
		}
	}
	return "", fmt.Errorf("path %q leaves the task directory", p)
}

// writeInAlloc writes a file atomically (a temporary file renamed over
// it) inside the allocation directory, through an os.Root so that no
// symlink leads the write outside.
func writeInAlloc(allocDir, rel string, data []byte, perm os.FileMode, uid, gid *int) error {
	root, err := os.OpenRoot(allocDir)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return err
	}
	tmp := path.Join(path.Dir(rel), "."+path.Base(rel)+".tmp")
	if err := root.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := root.Chmod(tmp, perm); err != nil {
		return err
	}
	if uid != nil || gid != nil {
		u, g := -1, -1
		if uid != nil {
			u = *uid
		}
		if gid != nil {
			g = *gid
		}
		if err := root.Chown(tmp, u, g); err != nil {
			return err
		}
	}
	return root.Rename(tmp, rel)
}

func readInAlloc(allocDir, rel string) ([]byte, error) {
	root, err := os.OpenRoot(allocDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.ReadFile(rel)
}

// parseEnvFile reads the KEY=value lines an env template renders: blank
// lines and # comments are skipped, "export " is allowed, and a value in
// matching quotes loses them.
func parseEnvFile(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out = append(out, k+"="+v)
	}
	return out
}
