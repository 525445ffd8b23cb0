package nodeagent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
)

// Commands run inside running tasks (`nomad alloc exec`), over a
// websocket that speaks Nomad's exec protocol: the client sends
// {"stdin":{"data","close"}} and {"tty_size":{"height","width"}} (and
// {} as a heartbeat); the agent sends {"stdout":{"data"}},
// {"stderr":{"data"}} and, once the command ended,
// {"exited":true,"result":{"exit_code"}}. The servers proxy it; the
// agent serves it only to them: over mutual TLS, or on a loopback
// address (a dev agent).

// ExecProtocol is the WebSocket subprotocol a browser's exec session
// offers (Nomad's exec protocol); clients that offer none get none.
const ExecProtocol = "nomadic.exec"

// maxExecFrame bounds what one client frame may carry.
const maxExecFrame = 1 << 20

var execUpgrader = websocket.Upgrader{
	ReadBufferSize: 4096, WriteBufferSize: 4096,
	// A browser's session offers this subprotocol (beside the token one
	// the servers take off): the answer must name one it offered.
	Subprotocols: []string{ExecProtocol},
	// The servers proxy the session, without the browser's Origin;
	// serveExec refuses a request that has one (a page reaching the
	// agent's loopback port directly).
	CheckOrigin: func(*http.Request) bool { return true },
}

// execAllowed reports whether the agent serves exec sessions: only to the
// servers, which authorize each request (alloc-exec, alloc-node-exec).
func (a *Agent) execAllowed() bool {
	if a.cfg.HTTPTLS {
		return true // mutual TLS: only servers' certificates get in
	}
	host, _, err := net.SplitHostPort(a.cfg.HTTPAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveExec runs a command in a running task of an allocation on this
// node: GET /v1/client/exec/{alloc}/{task}?command=["sh"]&tty=true.
func (a *Agent) serveExec(w http.ResponseWriter, req *http.Request) {
	if !a.execAllowed() {
		http.Error(w, `{"error":"this node agent serves exec only over mutual TLS (a node CA) or on a loopback address"}`, http.StatusForbidden)
		return
	}
	if req.Header.Get("Origin") != "" {
		http.Error(w, `{"error":"this node agent serves exec to the servers, not to browsers: go through a server's API"}`, http.StatusForbidden)
		return
	}
	allocID, task := req.PathValue("alloc"), req.PathValue("task")
	var cmd []string
	if err := json.Unmarshal([]byte(req.URL.Query().Get("command")), &cmd); err != nil || len(cmd) == 0 || len(cmd) > 1024 {
		http.Error(w, `{"error":"command must be a JSON list of strings: [\"/bin/sh\"]"}`, http.StatusBadRequest)
		return
	}
	tty := req.URL.Query().Get("tty") == "true"
	execReq, d, h, err := a.execTarget(allocID, task)
	if err != nil {
		http.Error(w, fmt.Sprintf(`{"error":%q}`, err.Error()), http.StatusNotFound)
		return
	}
	conn, err := execUpgrader.Upgrade(w, req, nil)
	if err != nil {
		return // the upgrader answered
	}
	defer conn.Close()
	conn.SetReadLimit(maxExecFrame)
	execReq.Cmd, execReq.TTY = cmd, tty
	slog.Info("exec in a task", "alloc", api.ShortID(allocID), "task", task, "command", strings.Join(cmd, " "), "tty", tty)
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	go func() {
		select {
		case <-a.ended:
			cancel()
		case <-ctx.Done():
		}
	}()
	code, err := runExec(ctx, conn, d, h, execReq)
	var out api.ExecOutput
	if err != nil {
		msg := "exec: " + err.Error() + "\r\n"
		_ = conn.WriteJSON(api.ExecOutput{Stderr: &api.ExecData{Data: []byte(msg)}})
		code = 126
	}
	out.Exited = true
	out.Result = &api.ExecResult{ExitCode: code}
	_ = conn.WriteJSON(out)
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}

// execTarget finds a running task, its driver and what its commands run
// with.
func (a *Agent) execTarget(allocID, task string) (*driver.ExecRequest, driver.Execer, driver.Handle, error) {
	a.mu.Lock()
	r := a.runners[allocID]
	a.mu.Unlock()
	if r == nil {
		return nil, nil, nil, fmt.Errorf("allocation %s does not run on this node", allocID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	tr := r.tasks[task]
	h := r.handles[task]
	ts := r.status.Tasks[task]
	if tr == nil || h == nil || ts == nil || ts.State != api.TaskStateRunning {
		return nil, nil, nil, fmt.Errorf("task %q of allocation %s is not running", task, api.ShortID(allocID))
	}
	d, ok := a.drivers[tr.task.Driver].(driver.Execer)
	if !ok {
		return nil, nil, nil, fmt.Errorf("the %s driver does not run commands in its tasks", tr.task.Driver)
	}
	allocDir := a.AllocDir(r.alloc.ID)
	taskDir := filepath.Join(allocDir, task)
	return &driver.ExecRequest{Env: taskEnv(a, tr.job, tr.group, tr.task, r.alloc, allocDir, taskDir), Dir: taskDir}, d, h, nil
}

// runExec runs the command with the websocket as its terminal or streams,
// until it exits or the client goes.
func runExec(ctx context.Context, conn *websocket.Conn, d driver.Execer, h driver.Handle, req *driver.ExecRequest) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wmu sync.Mutex
	send := func(f api.ExecOutput) error {
		wmu.Lock()
		defer wmu.Unlock()
		_ = conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		return conn.WriteJSON(f)
	}
	stdinR, stdinW := io.Pipe()
	resize := make(chan driver.TerminalSize, 1)
	req.Stdin = stdinR
	req.Stdout = frameWriter(func(b []byte) error { return send(api.ExecOutput{Stdout: &api.ExecData{Data: b}}) })
	req.Stderr = frameWriter(func(b []byte) error { return send(api.ExecOutput{Stderr: &api.ExecData{Data: b}}) })
	req.Resize = resize
	go func() {
		// The client's frames; its going away ends the command.
		defer cancel()
		defer stdinW.Close()
		for {
			var in api.ExecInput
			if err := conn.ReadJSON(&in); err != nil {
				return
			}
			switch {
			case in.Stdin != nil:
				if len(in.Stdin.Data) > 0 {
					if _, err := stdinW.Write(in.Stdin.Data); err != nil {
						// The command no longer reads: drop the rest.
						continue
					}
				}
				if in.Stdin.Close {
					stdinW.Close()
				}
			case in.TTYSize != nil:
				select {
				case resize <- driver.TerminalSize{Width: uint16(max(in.TTYSize.Width, 0)), Height: uint16(max(in.TTYSize.Height, 0))}:
				default:
				}
			}
		}
	}()
	go func() {
		// Stdin no longer wanted once the command is done.
		<-ctx.Done()
		stdinR.Close()
	}()
	return d.Exec(ctx, h, req)
}

// frameWriter is a writer that sends each write as a frame.
type frameWriter func([]byte) error

func (f frameWriter) Write(b []byte) (int, error) {
	// The frame is encoded at once; the caller may reuse b.
	if err := f(b); err != nil {
		return 0, err
	}
	return len(b), nil
}
