package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nomadic-project/nomadic/pkg/api"
)

// TerminalSize is an exec session's terminal size.
type TerminalSize struct{ Width, Height int }

// ExecOptions are the streams and terminal of an exec session.
type ExecOptions struct {
	TTY    bool
	Stdin  io.Reader // nil: no input
	Stdout io.Writer
	Stderr io.Writer
	Resize <-chan TerminalSize
}

// Exec runs cmd in a running task of an allocation, through the servers,
// until it exits or ctx ends; it returns the command's exit code.
func (c *Client) Exec(ctx context.Context, alloc, task string, cmd []string, o ExecOptions) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	command, err := json.Marshal(cmd)
	if err != nil {
		return 0, err
	}
	q := url.Values{"task": {task}, "command": {string(command)}, "tty": {fmt.Sprint(o.TTY)}}
	u := strings.Replace(c.addr, "http", "ws", 1) + "/v1/client/allocation/" + url.PathEscape(alloc) + "/exec?" + q.Encode()
	dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second, Proxy: http.ProxyFromEnvironment}
	if tr, ok := c.transport.(*http.Transport); ok && tr != nil {
		dialer.TLSClientConfig = tr.TLSClientConfig
	}
	header := http.Header{}
	if c.token != "" {
		header.Set("Authorization", "Bearer "+c.token)
	}
	conn, resp, err := dialer.DialContext(ctx, u, header)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			var e api.ErrorResponse
			if json.Unmarshal(data, &e) == nil && e.Error != "" {
				return 0, &APIError{Status: resp.StatusCode, Message: e.Error}
			}
			return 0, &APIError{Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
		}
		return 0, c.reachError(err)
	}
	defer conn.Close()
	var wmu sync.Mutex
	send := func(f *api.ExecInput) error {
		wmu.Lock()
		defer wmu.Unlock()
		return conn.WriteJSON(f)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		_ = conn.Close() // ends the read below when ctx does
	}()
	if o.Stdin != nil {
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := o.Stdin.Read(buf)
				if n > 0 {
					f := &api.ExecInput{Stdin: &api.ExecData{Data: buf[:n]}}
					if send(f) != nil {
						return
					}
				}
				if err != nil {
					_ = send(&api.ExecInput{Stdin: &api.ExecData{Close: true}})
					return
				}
			}
		}()
	}
	go func() {
		for {
			select {
			case sz, ok := <-o.Resize:
				if !ok {
					return
				}
				_ = send(&api.ExecInput{TTYSize: &api.ExecTTYSize{Height: sz.Height, Width: sz.Width}})
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		var f api.ExecOutput
		if err := conn.ReadJSON(&f); err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, fmt.Errorf("the exec session ended before the command did: %w", err)
		}
		switch {
		case f.Stdout != nil && o.Stdout != nil:
			_, _ = o.Stdout.Write(f.Stdout.Data)
		case f.Stderr != nil && o.Stderr != nil:
			_, _ = o.Stderr.Write(f.Stderr.Data)
		case f.Exited && f.Result != nil:
			return f.Result.ExitCode, nil
		}
	}
}
