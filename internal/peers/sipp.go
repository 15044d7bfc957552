package peers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	// TraceMsg writes every message sent and received to MessageFile
	// (-trace_msg); read it with Messages.
	TraceMsg bool
	// LocalIP is the address sipp binds (default 127.0.0.1; any 127/8
	// address works on Linux, for tests of source filtering).
	LocalIP string
	// Extra arguments.
	Extra []string
	// Logf receives sipp's screen output at exit; nil discards it.
	Logf Logf
}

// SIPp is a running sipp process.
type SIPp struct {
	Opts        SIPpOptions
	LogFile     string // the -trace_logs output
	MessageFile string // the -trace_msg output
	screen      string
	cmd         *exec.Cmd
	done        chan struct{}
	exitCode    int
}

// StartSIPp writes the scenario and starts sipp. Use Wait for UAC runs that
// end by themselves and Stop for UAS runs.
func StartSIPp(o SIPpOptions) (*SIPp, error) {
	if _, err := os.Stat(SIPpBinary); err != nil {
		return nil, fmt.Errorf("sipp is not installed (apt-get install sip-tester): %w", err)
	}
	if o.LocalPort != 0 {
		return startSIPp(o)
	}
	// A port found free can be taken by another process before sipp binds
	// it; with a port of our choosing, try another one.
	var err error
	for range 3 {
		if o.LocalPort, err = FreePort(); err != nil {
			return nil, err
		}
		var s *SIPp
		if s, err = startSIPp(o); err == nil {
			return s, nil
		}
	}
	return nil, err
}

func startSIPp(o SIPpOptions) (*SIPp, error) {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	sf := filepath.Join(o.Dir, o.Name+".xml")
	if err := os.WriteFile(sf, []byte(o.Scenario), 0o600); err != nil {
		return nil, err
	}
	s := &SIPp{Opts: o, screen: filepath.Join(o.Dir, o.Name+".screen"),
		LogFile: filepath.Join(o.Dir, o.Name+".log"), MessageFile: filepath.Join(o.Dir, o.Name+".msg")}
	if o.LocalIP == "" {
		o.LocalIP = "127.0.0.1"
		s.Opts.LocalIP = o.LocalIP
	}
	args := []string{"-sf", sf, "-i", o.LocalIP, "-p", strconv.Itoa(o.LocalPort), "-nostdin",
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
	if o.TraceMsg {
		args = append(args, "-trace_msg", "-message_file", s.MessageFile)
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
	if err := s.waitBound(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitBound waits until sipp has bound its local port, so a test can send
// to it at once: a TCP listener accepts a connection; a UDP socket is taken
// when binding the same address fails.
func (s *SIPp) waitBound() error {
	addr := s.Addr()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(10 * time.Second)
	for {
		if s.Opts.TCP {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				return nil
			}
		} else if u, err := net.ListenPacket("udp", addr); err != nil {
			return nil
		} else {
			u.Close()
		}
		select {
		case <-s.done:
			return fmt.Errorf("sipp %s exited at start: %s", s.Opts.Name, s.Errors())
		case <-timeout:
			return fmt.Errorf("sipp %s did not bind %s", s.Opts.Name, addr)
		case <-tick.C:
		}
	}
}

// Addr is sipp's local address.
func (s *SIPp) Addr() string { return fmt.Sprintf("%s:%d", s.Opts.LocalIP, s.Opts.LocalPort) }

// TracedMessage is one SIP message from sipp's -trace_msg file.
type TracedMessage struct {
	Received bool   // received by sipp (else sent)
	Raw      string // the message exactly as on the wire
}

// traceHead matches sipp's line before each traced message; the byte
// count delimits the message exactly.
// sipp writes "[N] bytes :" for received and "(N bytes):" for sent ones.
var traceHead = regexp.MustCompile(`(?m)^\S+ message (received|sent) (?:\[(\d+)\] bytes :|\((\d+) bytes\):)\n\n`)

// Messages reads the messages sipp traced so far.
func (s *SIPp) Messages() ([]TracedMessage, error) {
	b, err := os.ReadFile(s.MessageFile)
	if err != nil {
		return nil, err
	}
	var out []TracedMessage
	for _, m := range traceHead.FindAllSubmatchIndex(b, -1) {
		lo, hi := m[4], m[5]
		if lo < 0 {
			lo, hi = m[6], m[7]
		}
		count := b[lo:hi]
		n, _ := strconv.Atoi(string(count))
		start := m[1]
		if start+n > len(b) {
			break // still being written
		}
		out = append(out, TracedMessage{Received: string(b[m[2]:m[3]]) == "received", Raw: string(b[start : start+n])})
	}
	return out, nil
}

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
