package containerd

import (
	"encoding/binary"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// logDrainTimeout bounds the wait for the shim to finish copying a task's
// output after its exit. The copy normally ends within milliseconds; a
// process outside the task's PID namespace that holds its output (pid_mode
// "host") keeps the file open, and every exit of such a task waits this
// long. Together with the wait for an OOM event (2 s) it stays well inside
// the 10 s a stop gives a task after SIGKILL.
const logDrainTimeout = 3 * time.Second

// drainWatch tells when the shim has finished writing a task's log file.
//
// The shim copies the task's stdout and stderr from pipes into the file and
// closes the file when both pipes are drained. Deleting the task closes the
// pipes, and containerd 1.6's shim waits only 2 s for the copies before it
// does: under load the last lines were lost (a CI run lost a task's whole
// stderr). So the task is deleted only after the file's last writer closed
// it, which inotify reports as IN_CLOSE_WRITE: a bounded, exact wait instead
// of a guessed sleep. The agent's rotation truncates without opening and its
// readers open read-only, so no one else closes a written file there.
//
// One inotify instance serves all of a driver's tasks, a watch each: the
// instances a user may hold are few (128 by default, shared by every
// process of root), the watches many.
type drainWatch struct {
	mu      sync.Mutex
	started bool
	f       *os.File // nil: no inotify (every drain is nil)
	fd      int
	watches map[int32]*drainEntry
}

type drainEntry struct {
	done   chan struct{}
	closed bool
	refs   int
}

// logDrain is one task's wait.
type logDrain struct {
	w    *drainWatch
	wd   int32
	done <-chan struct{}
}

// watch watches path, which the shim must already hold open (the task is
// created and not yet started). It returns nil when inotify is not
// available; the task is then deleted at once at its exit, as before.
func (w *drainWatch) watch(path string) *logDrain {
	if path == "" {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started {
		w.started = true
		fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
		if err != nil {
			return nil
		}
		// A non-blocking descriptor goes to Go's poller, so Close ends a
		// pending Read.
		w.f, w.fd, w.watches = os.NewFile(uintptr(fd), "inotify"), fd, map[int32]*drainEntry{}
		go w.read(w.f)
	}
	if w.f == nil {
		return nil
	}
	n, err := unix.InotifyAddWatch(w.fd, path, unix.IN_CLOSE_WRITE|unix.IN_DELETE_SELF)
	if err != nil {
		return nil
	}
	wd := int32(n)
	e := w.watches[wd]
	if e == nil || e.closed {
		// The same file watched twice shares its watch.
		e = &drainEntry{done: make(chan struct{})}
		w.watches[wd] = e
	}
	e.refs++
	return &logDrain{w: w, wd: wd, done: e.done}
}

// read hands each watch its writer's close until the instance is closed.
func (w *drainWatch) read(f *os.File) {
	buf := make([]byte, 16<<10)
	for {
		n, err := f.Read(buf)
		if err != nil {
			w.mu.Lock()
			for wd, e := range w.watches {
				if !e.closed {
					e.closed = true
					close(e.done)
				}
				delete(w.watches, wd)
			}
			w.mu.Unlock()
			return
		}
		w.mu.Lock()
		// struct inotify_event: wd int32, mask, cookie, len uint32, name.
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			if e := w.watches[wd]; e != nil && !e.closed && mask&(unix.IN_CLOSE_WRITE|unix.IN_DELETE_SELF|unix.IN_IGNORED) != 0 {
				e.closed = true
				close(e.done)
			}
			off += unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[off+12:]))
		}
		w.mu.Unlock()
	}
}

// close ends the instance: waits still pending return.
func (w *drainWatch) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
	}
}

// wait returns when the file's writer closed it or after timeout, and
// releases the watch. A nil drain returns at once.
func (d *logDrain) wait(timeout time.Duration) bool {
	if d == nil {
		return false
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	drained := false
	select {
	case <-d.done:
		drained = true
	case <-t.C:
	}
	d.close()
	return drained
}

// close releases the watch.
func (d *logDrain) close() {
	if d == nil {
		return
	}
	w := d.w
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.watches[d.wd]
	if e == nil || e.done != d.done {
		return
	}
	if e.refs--; e.refs > 0 {
		return
	}
	delete(w.watches, d.wd)
	if w.f != nil {
		// EINVAL when the kernel dropped it already (the file deleted).
		_, _ = unix.InotifyRmWatch(w.fd, uint32(d.wd))
	}
}
