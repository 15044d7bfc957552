package peers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// SIPpBinary is the path of the sipp executable (Debian package sip-tester).
const SIPpBinary = "/usr/bin/sipp"

// SIPpOptions describes one sipp run.
type SIPpOptions struct {
	// Dir receives the scenario file and sipp's logs.
	Dir string
	// Name names the files; it must be unique within Dir.
	Name string
	// Scenario is the scenario XML.
	Scenario string
	// Remote is the target host:port of a UAC scenario ("" for a UAS).
	Remote string
	// LocalPort is the port sipp binds on 127.0.0.1 (0 picks a free one).
	LocalPort int
	// TCP selects transport t1 (one TCP connection) instead of u1.
	TCP bool
	// Calls bounds the run (-m); Rate and RatePeriod set the call rate
	// (-r per -rp); zero leaves sipp's defaults.
	Calls      int
	Rate       int
	RatePeriod time.Duration
	// Keys are -key NAME VALUE substitutions for [NAME] in the scenario.
	Keys map[string]string
	// TraceLogs writes <log> actions to LogFile (-trace_logs).
	TraceLogs bool
	// Extra arguments.
	Extra []string
	// Logf receives sipp's screen output at exit; nil discards it.
	Logf Logf
}

// SIPp is a running sipp process.
type SIPp struct {
	Opts     SIPpOptions
	LogFile  string // the -trace_logs output
	screen   string
	cmd      *exec.Cmd
	done     chan struct{}
	exitCode int
}

// StartSIPp writes the scenario and starts sipp. Use Wait for UAC runs that
// end by themselves and Stop for UAS runs.
func StartSIPp(o SIPpOptions) (*SIPp, error) {
	if _, err := os.Stat(SIPpBinary); err != nil {
		return nil, fmt.Errorf("sipp is not installed (apt-get install sip-tester): %w", err)
	}
	if o.LocalPort == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		o.LocalPort = p
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	sf := filepath.Join(o.Dir, o.Name+".xml")
	if err := os.WriteFile(sf, []byte(o.Scenario), 0o600); err != nil {
		return nil, err
	}
	s := &SIPp{Opts: o, screen: filepath.Join(o.Dir, o.Name+".screen"), LogFile: filepath.Join(o.Dir, o.Name+".log")}
	args := []string{"-sf", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(o.LocalPort), "-nostdin",
		"-trace_err", "-error_file", filepath.Join(o.Dir, o.Name+".errors")}
	if o.TCP {
		args = append(args, "-t", "t1")
	} else {
		args = append(args, "-t", "u1")
	}
	if o.Calls > 0 {
		args = append(args, "-m", strconv.Itoa(o.Calls))
	}
	if o.Rate > 0 {
		args = append(args, "-r", strconv.Itoa(o.Rate))
	}
	if o.RatePeriod > 0 {
		args = append(args, "-rp", strconv.FormatInt(o.RatePeriod.Milliseconds(), 10))
	}
	if o.TraceLogs {
		args = append(args, "-trace_logs", "-log_file", s.LogFile)
	}
	for k, v := range o.Keys {
		args = append(args, "-key", k, v)
	}
	args = append(args, o.Extra...)
	if o.Remote != "" {
		args = append(args, o.Remote)
	}
	out, err := os.Create(s.screen)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(SIPpBinary, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() {
		err := cmd.Wait()
		out.Close()
		s.exitCode = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			s.exitCode = ee.ExitCode()
		}
		close(s.done)
	}()
	return s, nil
}

// Addr is sipp's local address.
func (s *SIPp) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Opts.LocalPort) }

// Wait waits for sipp to exit and returns its exit code: 0 when every call
// succeeded, 1 when at least one failed (sipp's convention).
func (s *SIPp) Wait(ctx context.Context) (int, error) {
	select {
	case <-s.done:
		s.logScreen()
		return s.exitCode, nil
	case <-ctx.Done():
		s.Stop()
		return -1, ctx.Err()
	}
}

// Stop terminates sipp and waits for it.
func (s *SIPp) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.logScreen()
}

// Errors returns the content of sipp's error trace (unexpected messages,
// timeouts), for failure reports.
func (s *SIPp) Errors() string {
	b, _ := os.ReadFile(filepath.Join(s.Opts.Dir, s.Opts.Name+".errors"))
	return string(b)
}

func (s *SIPp) logScreen() {
	if s.Opts.Logf == nil {
		return
	}
	b, _ := os.ReadFile(s.screen)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	s.Opts.Logf("sipp %s exited %d:\n%s", s.Opts.Name, s.exitCode, b)
}
