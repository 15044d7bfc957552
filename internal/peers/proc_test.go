package peers

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestStartProcNotReady: when ready fails, startProc stops the process
// again and returns ready's error; ready learns of an early exit.
func TestStartProcNotReady(t *testing.T) {
	notReady := errors.New("not ready")
	var pid int
	cmd := exec.Command("sleep", "60")
	p, err := startProc(cmd, func(<-chan struct{}) error {
		pid = cmd.Process.Pid
		return notReady
	})
	if p != nil || !errors.Is(err, notReady) {
		t.Fatalf("startProc = %v, %v; want nil, %v", p, err, notReady)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still there after a failed ready (kill 0: %v)", pid, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = startProc(exec.Command("true"), func(exited <-chan struct{}) error {
		// Nothing listens on port 1 of loopback.
		return waitListening(ctx, "127.0.0.1:1", exited)
	})
	if err == nil || err.Error() != "process exited" {
		t.Errorf("waiting on a process that exits: %v, want process exited", err)
	}
}
