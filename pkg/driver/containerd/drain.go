package containerd

import (
	"encoding/binary"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// logDrainTimeout bounds the wait for the shim to finish copying a task's
// output after its exit. The copy normally ends within milliseconds.
const logDrainTimeout = 10 * time.Second

// logDrain tells when the shim has finished writing a task's log file.
//
// The shim copies the task's stdout and stderr from pipes into the file and
// closes the file when both pipes are drained. Deleting the task closes the
// pipes, and containerd 1.6's shim waits only 2 s for the copies before it
// does: under load the last lines were lost (a CI run lost a task's whole
// stderr). So the task is deleted only after the file's last writer closed
// it, which inotify reports as IN_CLOSE_WRITE: a bounded, exact wait instead
// of a guessed sleep. The agent's rotation truncates without opening and its
// readers open read-only, so no one else closes a written file there.
type logDrain struct {
	f    *os.File
	done chan struct{}
}

// watchLogDrain watches path, which the shim must already hold open (the
// task is created and not yet started). It returns nil when inotify is not
// available; the task is then deleted at once, as before.
func watchLogDrain(path string) *logDrain {
	if path == "" {
		return nil
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_CLOSE_WRITE|unix.IN_DELETE_SELF); err != nil {
		unix.Close(fd)
		return nil
	}
	// A non-blocking descriptor goes to Go's poller, so Close ends a
	// pending Read.
	d := &logDrain{f: os.NewFile(uintptr(fd), "inotify:"+path), done: make(chan struct{})}
	go d.read()
	return d
}

func (d *logDrain) read() {
	defer close(d.done)
	buf := make([]byte, 4096)
	for {
		n, err := d.f.Read(buf)
		if err != nil {
			return
		}
		// struct inotify_event: wd int32, mask, cookie, len uint32, name.
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			if mask&(unix.IN_CLOSE_WRITE|unix.IN_DELETE_SELF|unix.IN_IGNORED) != 0 {
				return
			}
			off += unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[off+12:]))
		}
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

func (d *logDrain) close() {
	if d != nil {
		_ = d.f.Close()
	}
}
