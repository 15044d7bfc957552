package peers

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"syscall"
	"time"
)

// proc is a peer process running in a process group of its own, so that
// stopping it also stops any child it forked; it dies with the test
// process (Pdeathsig).
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// startProc starts cmd in its own process group and waits for ready,
// which is given a channel closed when the process exits; when ready
// fails, the process is stopped again and ready's error returned.
func startProc(cmd *exec.Cmd, ready func(exited <-chan struct{}) error) (*proc, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	if err := ready(p.done); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// stop sends SIGTERM to the process group, SIGKILL after 5 s, waits for the
// process, then kills whatever of the group is left. A nil proc (a peer
// that is not running) has nothing to stop.
func (p *proc) stop() {
	if p == nil {
		return
	}
	pgid := -p.cmd.Process.Pid
	syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(pgid, syscall.SIGKILL)
		<-p.done
	}
	syscall.Kill(pgid, syscall.SIGKILL)
}

// waitListening polls addr until it accepts a TCP connection, the process
// exits or ctx ends.
func waitListening(ctx context.Context, addr string, exited <-chan struct{}) error {
	return poll(ctx, exited, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// waitUDPBound polls until binding addr over UDP fails (the socket is taken),
// the process exits or ctx ends.
func waitUDPBound(ctx context.Context, addr string, exited <-chan struct{}) error {
	return poll(ctx, exited, func() bool {
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return true
		}
		u.Close()
		return false
	})
}

// poll calls done at once and then every 20 ms until it reports true, the
// process exits or ctx ends.
func poll(ctx context.Context, exited <-chan struct{}, done func() bool) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if done() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("process exited")
		case <-tick.C:
		}
	}
}
